"""Who may use the console, and the district every request is scoped to.

For now an admin is a Django staff user, and staff may open every district; issue 6 replaces this with roles,
per-district scoping, the Primary admin and MFA. Every view goes through `admin_view`, which resolves the
district from the URL (404 for an unknown slug) — no view looks anything up without it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from schoolgate.core.models import District


def actor_of(request: HttpRequest) -> str:
    """The audit actor for an admin's request."""
    return f"admin:{request.user.get_username()}"


def is_admin(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def admin_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Require an admin (else the console login page) and resolve `slug` to `request.district`."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_admin(request):
            return redirect_to_login(request.get_full_path(), "console:login")
        slug = kwargs.pop("slug", None)
        if slug is not None:
            request.district = get_object_or_404(District, slug=slug)  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper
