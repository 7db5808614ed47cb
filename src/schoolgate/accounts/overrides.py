"""Admin overrides of a link's portal flag or sections: set, remove, list.

The `Override` rows belong to `people`; the actions live here because each one also reconciles the contact's
account, and `people` never depends on `accounts`.

An override is the district's explicit decision, so the sync keeps it whatever the SIS says (and reports the
disagreement). Setting or removing one re-evaluates that link and reconciles the contact at once, in the same
transaction, so the account reflects the decision without waiting for the next sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from schoolgate.accounts.reconcile import reconcile_people
from schoolgate.core import audit
from schoolgate.core.models import District
from schoolgate.core.refusals import INVALID, MISSING, Refused
from schoolgate.people.evaluation import evaluate_links
from schoolgate.people.models import Link, Override, OverrideField


class OverrideRejected(Refused):
    """The override cannot be set or removed; the message says why, and `about` which part of the request it
    is about ("field", "reason", "until" or "link"; "" for a refusal of the override as a whole)."""

    def __init__(self, message: str, *, kind: str | None = None, about: str = "") -> None:
        super().__init__(message, kind=kind)
        self.about = about


@dataclass(frozen=True)
class OverrideRow:
    id: int
    contact: str
    student: str
    field: str
    value: bool
    reason: str
    expires_at: datetime | None
    created_by: str
    created_at: datetime
    removed_at: datetime | None

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "contact": self.contact,
            "student": self.student,
            "field": self.field,
            "value": self.value,
            "reason": self.reason,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "removed_at": self.removed_at.isoformat() if self.removed_at else None,
        }


def _snapshot(override: Override | None) -> dict | None:
    if override is None:
        return None
    return {
        "field": override.field,
        "value": override.value,
        "reason": override.reason,
        "expires_at": override.expires_at.isoformat() if override.expires_at else None,
    }


def get_link(district: District, contact_code: str, student_code: str) -> Link:
    try:
        return Link.objects.select_related("contact", "student").get(
            district=district, contact__sis_code=contact_code, student__sis_code=student_code
        )
    except Link.DoesNotExist:
        raise OverrideRejected(
            f"{contact_code} is not linked to {student_code} in this district", kind=MISSING, about="link"
        ) from None


def _refresh(district: District, link: Link, actor: str) -> None:
    evaluate_links(district, f"SELECT {int(link.contact_id)} AS person_id")
    reconcile_people(district, [link.contact_id], actor=actor)


def set_override(
    district: District,
    *,
    contact: str,
    student: str,
    field: str,
    value: bool,
    reason: str,
    actor: str,
    expires_at: datetime | None = None,
) -> Override:
    """Force `field` ("portal" or a section) of the contact→student link on or off, replacing any override
    already in force for that field."""
    if field not in OverrideField.values:
        raise OverrideRejected(
            f"unknown field {field!r} (one of: {', '.join(OverrideField.values)})",
            kind=INVALID,
            about="field",
        )
    if not reason.strip():
        raise OverrideRejected(
            "an override needs a reason (it is shown to every admin who meets it)",
            kind=INVALID,
            about="reason",
        )
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        raise OverrideRejected(
            f"the expiry {expires_at:%Y-%m-%d %H:%M} is already past", kind=INVALID, about="until"
        )
    link = get_link(district, contact, student)
    with transaction.atomic():
        previous = (
            Override.objects.select_for_update()
            .filter(link=link, field=field, removed_at__isnull=True)
            .first()
        )
        if previous is not None:
            previous.removed_at, previous.removed_by = now, actor
            previous.save(update_fields=["removed_at", "removed_by"])
        override = Override.objects.create(
            district=district,
            link=link,
            field=field,
            value=value,
            reason=reason.strip(),
            expires_at=expires_at,
            created_by=actor,
            created_at=now,
        )
        if expires_at is not None:  # its end takes effect at that time, not at the next sync
            transaction.on_commit(lambda: schedule_expiry(expires_at), robust=True)
        audit.record(
            district,
            actor,
            "override.set",
            target_type="link",
            target_id=link.pk,
            target_label=f"{contact} → {student}",
            before=_snapshot(previous),
            after=_snapshot(override),
        )
        _refresh(district, link, actor)
    return override


def remove_override(district: District, override_id: int, *, actor: str) -> Override:
    """Hand the field back to the rules."""
    with transaction.atomic():
        try:
            override = (
                Override.objects.select_for_update()
                .select_related("link__contact", "link__student")
                .get(district=district, pk=override_id)
            )
        except Override.DoesNotExist:
            raise OverrideRejected(f"no override {override_id} in this district", kind=MISSING) from None
        if override.removed_at is not None:
            raise OverrideRejected(
                f"override {override_id} was already removed on {override.removed_at:%Y-%m-%d}"
            )
        before = _snapshot(override)
        override.removed_at, override.removed_by = timezone.now(), actor
        override.save(update_fields=["removed_at", "removed_by"])
        link = override.link
        audit.record(
            district,
            actor,
            "override.removed",
            target_type="link",
            target_id=link.pk,
            target_label=f"{link.contact.sis_code} → {link.student.sis_code}",
            before=before,
            after=None,
        )
        _refresh(district, link, actor)
    return override


def expire_due(*, now: datetime | None = None) -> int:
    """Hand the fields of overrides whose end date has come back to the rules, in every district: each is
    marked removed (at its expiry, by `system:expiry`, audited `override.expired`), its contact's links are
    evaluated again and their account reconciled — so access granted or withheld until a date ends then, not
    at the next sync (evaluation ignores an expired override either way). Returns how many expired."""
    now = now or timezone.now()
    due = Override.objects.filter(removed_at__isnull=True, expires_at__lte=now)
    expired = 0
    for district_id in sorted(set(due.values_list("district_id", flat=True))):
        district = District.objects.get(pk=district_id)
        with transaction.atomic():
            overrides = list(
                due.filter(district=district)
                .select_for_update()
                .select_related("link__contact", "link__student")
            )
            for override in overrides:
                before = _snapshot(override)
                override.removed_at, override.removed_by = override.expires_at, audit.SYSTEM_EXPIRY
                override.save(update_fields=["removed_at", "removed_by"])
                link = override.link
                audit.record(
                    district, audit.SYSTEM_EXPIRY, "override.expired", target_type="link", target_id=link.pk,
                    target_label=f"{link.contact.sis_code} → {link.student.sis_code}", before=before, after=None,
                )  # fmt: skip
            contacts = sorted({override.link.contact_id for override in overrides})
            if contacts:
                evaluate_links(district, " UNION ".join(f"SELECT {int(c)} AS person_id" for c in contacts))
                reconcile_people(district, contacts, actor=audit.SYSTEM_EXPIRY)
            expired += len(overrides)
    return expired


def next_expiry() -> datetime | None:
    """When the next override in force ends, in any district (None: none has an end date)."""
    return (
        Override.objects.filter(removed_at__isnull=True, expires_at__isnull=False)
        .order_by("expires_at")
        .values_list("expires_at", flat=True)
        .first()
    )


def schedule_expiry(at: datetime) -> None:
    """Ask the worker to run `expire_due` at `at` (the run then asks for the next one)."""
    from schoolgate.accounts.tasks import expire_overrides  # the task module imports this one
    from schoolgate.core.background import queue_once

    queue_once(expire_overrides, at)


def list_overrides(
    district: District, *, include_removed: bool = False, contact: str | None = None
) -> list[OverrideRow]:
    """Overrides of the district (in force only, unless asked), newest first."""
    qs = Override.objects.filter(district=district).select_related("link__contact", "link__student")
    if not include_removed:
        qs = qs.filter(removed_at__isnull=True).exclude(expires_at__lte=timezone.now())
    if contact:
        qs = qs.filter(link__contact__sis_code=contact)
    return [
        OverrideRow(
            o.pk,
            o.link.contact.sis_code,
            o.link.student.sis_code,
            o.field,
            o.value,
            o.reason,
            o.expires_at,
            o.created_by,
            o.created_at,
            o.removed_at,
        )
        for o in qs.order_by("-created_at", "-pk")
    ]
