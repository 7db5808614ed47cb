"""A page for a form's address opened directly.

A view that only takes a form (`require_http_methods(["POST"])`, Django's LogoutView) answers any other method
with an empty 405, and the browser shows its own bare error. One middleware gives every such answer of the
browser surfaces a page in the site's style instead, so no view has to remember to. The 404 and 500 pages need
nothing here: Django renders 404.html and 500.html (in core/templates) by itself when DEBUG is off.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

# The URL namespaces of the pages people open in a browser (see schoolgate/urls.py). Everything else (the
# REST API, SCIM, the OpenID Connect endpoints, health and metrics) is read by programs and keeps its own
# answer: the API and SCIM give a JSON error, and a client of the token endpoint expects no HTML.
BROWSER_NAMESPACES = {"console", "portal"}


class MethodNotAllowedPageMiddleware:
    """Render 405.html for an empty 405 from a console or portal view, keeping the status and Allow header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 405 or response.streaming or response.content:
            return response
        match = request.resolver_match
        if match is None or not BROWSER_NAMESPACES.intersection(match.namespaces):
            return response
        # The link back is decided in the template from what the request already holds (a console view's
        # district is set by admin_view before its method check), so this page makes no query of its own.
        page = HttpResponse(render_to_string("405.html", request=request), status=405)
        page["Allow"] = response.get("Allow", "")
        return page
