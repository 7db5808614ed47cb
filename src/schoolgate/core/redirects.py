"""Where to go after a login step: the `next` URL a request names, only if it stays on this site."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, default: str = "", *, path_only: bool = False) -> str:
    """The request's `next` (POST first, then the query string) if it is safe to redirect to, else `default`.

    Safe means `url_has_allowed_host_and_scheme` accepts it for this request's host: no other host (`//evil`
    included), no `javascript:` or other scheme, and https kept when the request is secure — so a login page
    cannot be used as an open redirect. `path_only` also refuses anything that is not a path starting with
    "/" (an absolute URL to this very host, or a relative path).
    """
    target = request.POST.get("next") or request.GET.get("next") or ""
    if path_only and not target.startswith("/"):
        return default
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default
