"""Template context for console pages: the district and the admin's unread notification count (the bell)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from schoolgate.console.access import actor_of, is_admin
from schoolgate.jobs.models import Notification


def console(request: HttpRequest) -> dict[str, Any]:
    district = getattr(request, "district", None)
    if district is None or not is_admin(request):
        return {}
    unread = Notification.objects.filter(
        district=district, recipient=actor_of(request), read_at__isnull=True
    ).count()
    return {"district": district, "unread": unread}
