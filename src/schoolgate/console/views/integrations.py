"""The integrations page: the district's SCIM push targets and webhook endpoints with their status
(pending, failed, lag, last success, last error). Read-only: targets are added with
`schoolgate integrations`, where tokens never pass through a browser."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from schoolgate.admins import roles
from schoolgate.console.access import admin_view
from schoolgate.integrations.configuration import endpoint_status, target_status


@admin_view(roles.INTEGRATIONS)
def integrations(request: HttpRequest) -> HttpResponse:
    district = request.district  # type: ignore[attr-defined]
    return render(
        request,
        "console/integrations.html",
        {"targets": target_status(district), "endpoints": endpoint_status(district)},
    )
