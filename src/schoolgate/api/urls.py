"""REST API URLs (mounted at /api/v1/): the API's operations and schema, with JSON errors for wrong methods
and unknown paths so that every answer under /api/v1/ has the API's error shape."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, re_path
from django.views.decorators.csrf import csrf_exempt

from schoolgate.api.errors import json_error
from schoolgate.api.main import api


def _json_405(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """ninja answers a wrong method with a plain-text 405; give it the API's error body."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith(
            "application/json"
        ):
            allowed = response.get("Allow", "")
            error = json_error(405, "method_not_allowed", f"{request.method} is not allowed here (allowed: {allowed})",
                               {"method": request.method, "allowed": [m.strip() for m in allowed.split(",") if m]})  # fmt: skip
            error["Allow"] = allowed
            return error
        return response

    return wrapper


# Exempt from CSRF like ninja's own views: a POST with a bearer token and no cookie is not a forged form, and
# this view only ever answers 404 (else Django answers an unknown path's POST with its HTML 403 page).
@csrf_exempt
def _unknown(request: HttpRequest, rest: str = "") -> HttpResponse:
    return json_error(404, "not_found", f"no API path /api/v1/{rest}", {"path": f"/api/v1/{rest}"})


def _patterns() -> list[URLPattern]:
    patterns, _app_name, _namespace = api.urls
    wrapped = [path(str(p.pattern), _json_405(p.callback), name=p.name) for p in patterns]
    return wrapped


app_name = "api"
urlpatterns = [*_patterns(), re_path(r"^(?P<rest>.*)$", _unknown, name="unknown")]
