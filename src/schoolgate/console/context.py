"""Template context for console pages: the district, what the admin may do there (the menu shows only that),
the districts they can switch to, and their unread notification count (the bell)."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.http import HttpRequest

from schoolgate.admins import authz, roles
from schoolgate.console.access import actor_of
from schoolgate.jobs.models import Notification

# Template names for permissions (a template cannot look up "accounts.view").
MENU = {
    "view_accounts": roles.VIEW_ACCOUNTS,
    "sync": roles.SYNC_VIEW,
    "generate": roles.GENERATE,
    "doctor": roles.DOCTOR,
    "audit": roles.AUDIT_VIEW,
    "manage_admins": roles.MANAGE_ADMINS,
    "billing": roles.BILLING_VIEW,
    "act": roles.ACT_ACCOUNTS,
    "edit_people": roles.EDIT_PEOPLE,
    "run_sync": roles.SYNC_RUN,
    "integrations": roles.INTEGRATIONS,
}


def console(request: HttpRequest) -> dict[str, Any]:
    """The console's context. The district switcher and the bell are read only by the full page layout, so
    they are given as once-only callables (a template calls a callable value when it uses it): an htmx
    partial such as the account rows costs no query for them."""
    user = request.user
    if not (user.is_authenticated and user.is_verified()):
        return {}
    context: dict[str, Any] = {
        "switch_to": cache(lambda: list(authz.districts_for(user).values_list("slug", "name")))
    }
    access = getattr(request, "access", None)
    if access is None:
        return context
    unread = cache(
        lambda: Notification.objects.filter(
            district=access.district, recipient=actor_of(request), read_at__isnull=True
        ).count()
    )
    can = {name: access.allows(permission) for name, permission in MENU.items()}
    return {**context, "district": access.district, "access": access, "can": can, "unread": unread,
            "role_name": roles.ROLE_NAMES.get(access.role, access.role)}  # fmt: skip
