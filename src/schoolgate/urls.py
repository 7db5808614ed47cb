"""URL routes. The admin console and portal arrive with their own apps; for now the read-only Django admin
and a health check."""

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path


def health(_request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("health", health, name="health"),
    path("portal/", include("schoolgate.portal.urls")),
    path("console/", include("schoolgate.console.urls")),
]
