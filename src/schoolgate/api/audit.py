"""The audit log: every change, who made it (an API token is "api:<prefix>"), filtered, newest first."""

from __future__ import annotations

from datetime import date, datetime

from django.db.models import Q
from django.http import HttpRequest
from ninja import Query, Router

from schoolgate.admins import roles
from schoolgate.api.auth import needs
from schoolgate.api.errors import ERROR_STATUSES, ApiError, ErrorOut
from schoolgate.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageInfo, decode, page
from schoolgate.api.schemas import AuditEventOut, AuditPage
from schoolgate.core.models import AuditEvent

router = Router(tags=["audit"])
SINCE = Query(None, description="first day (YYYY-MM-DD)")
UNTIL = Query(None, description="last day (YYYY-MM-DD)")


@router.get("/audit-events", response={200: AuditPage, ERROR_STATUSES: ErrorOut}, **needs(roles.AUDIT_VIEW))
def list_events(
    request: HttpRequest,
    actor: str | None = Query(None, max_length=150, description="part of the actor, e.g. api:sg_ or admin:"),
    action: str | None = Query(None, max_length=60, description="start of the action, e.g. account."),
    target: str | None = Query(None, max_length=255, description="part of the target, e.g. a SIS code"),
    since: date | None = SINCE,
    until: date | None = UNTIL,
    cursor: str | None = Query(None, max_length=2000),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> AuditPage:
    """Audit events of the district, newest first, one page at a time."""
    if since and until and since > until:
        raise ApiError(422, "invalid_input", f"since in query ({since}) is after until ({until})",
                       {"field": "since"})  # fmt: skip
    events = AuditEvent.objects.filter(district=request.district).order_by("-at", "-id")
    for value, lookup in ((actor, "actor__icontains"), (action, "action__startswith"),
                          (target, "target_label__icontains")):  # fmt: skip
        if value and value.strip():
            events = events.filter(**{lookup: value.strip()})
    if since:
        events = events.filter(at__date__gte=since)
    if until:
        events = events.filter(at__date__lte=until)
    after = decode("audit", cursor)
    if after:
        try:
            at, pk = datetime.fromisoformat(after[0]), int(after[1])
        except (IndexError, TypeError, ValueError):
            raise ApiError(
                400, "invalid_cursor", "cursor in query is not valid", {"field": "cursor"}
            ) from None
        events = events.filter(Q(at__lt=at) | Q(at=at, id__lt=pk))
    shown, following = page(list(events[: limit + 1]), limit, "audit", lambda e: [e.at.isoformat(), e.pk])
    return AuditPage(
        items=[
            AuditEventOut(
                id=e.pk,
                at=e.at,
                actor=e.actor,
                action=e.action,
                target_type=e.target_type,
                target_id=e.target_id,
                target=e.target_label,
                run=e.run_id,
                before=e.before,
                after=e.after,
            )
            for e in shown
        ],
        page=PageInfo(next=following, limit=limit),
    )
