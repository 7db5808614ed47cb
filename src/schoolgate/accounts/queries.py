"""Reads of accounts for listings (CLI, console, API): always scoped to one district."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet

from schoolgate.accounts.models import Account, AccountState, RevokeReason
from schoolgate.core.models import District
from schoolgate.people.models import Link, PersonKind


class InvalidFilter(ValueError):
    """A filter value that is not one of the known states, reasons or kinds."""


class InvalidCursor(InvalidFilter):
    """A page link (keyset cursor) this listing did not issue, or one that was altered."""


@dataclass(frozen=True)
class AccountRow:
    person: str
    kind: str
    state: str
    reason: str | None
    successor: str | None
    username: str | None
    students: list[str]

    def as_dict(self) -> dict:
        return {
            "person": self.person,
            "kind": self.kind,
            "state": self.state,
            "reason": self.reason,
            "successor": self.successor,
            "username": self.username,
            "students": self.students,
        }


def _check(value: str | None, allowed: list[str], what: str) -> None:
    if value is not None and value not in allowed:
        raise InvalidFilter(f"unknown {what} {value!r} (one of: {', '.join(allowed)})")


def account_queryset(
    district: District, *, state: str | None = None, kind: str | None = None, reason: str | None = None
) -> QuerySet[Account]:
    """Accounts of the district, filtered; unknown filter values are refused, not silently empty."""
    _check(state, AccountState.values, "state")
    _check(kind, PersonKind.values, "kind")
    _check(reason, RevokeReason.values, "reason")
    qs = Account.objects.filter(district=district)
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(person__kind=kind)
    if reason:
        qs = qs.filter(reason=reason)
    return qs


def visible_links(district: District, contact_ids: list[int] | None = None) -> QuerySet[Link]:
    """The links through which a contact may see a student right now (the portal's rule): the link and the
    student are current in the SIS and the portal flag in force is on. All the district's contacts, or those
    in `contact_ids`."""
    links = Link.objects.filter(district=district, in_sis=True, portal_flag=True, student__in_sis=True)
    if contact_ids is not None:
        links = links.filter(contact_id__in=contact_ids)
    return links


def visible_students(district: District, contact_ids: list[int] | None = None) -> dict[int, list[str]]:
    """For each contact, the SIS codes of the students they may see right now (sorted)."""
    links = visible_links(district, contact_ids)
    seen: dict[int, list[str]] = defaultdict(list)
    for contact_id, code in links.values_list("contact_id", "student__sis_code").order_by(
        "student__sis_code"
    ):
        seen[contact_id].append(code)
    return seen


def list_accounts(
    district: District, *, state: str | None = None, kind: str | None = None, reason: str | None = None
) -> Iterator[AccountRow]:
    """Every account matching the filters, ordered by person code, with the students each may see."""
    qs = account_queryset(district, state=state, kind=kind, reason=reason).order_by("person__sis_code")
    rows = qs.values_list(
        "person_id", "person__sis_code", "person__kind", "state", "reason", "successor__sis_code", "username"
    )
    students = visible_students(district) if kind in (None, PersonKind.CONTACT, PersonKind.STAFF) else {}
    for person_id, code, person_kind, acc_state, acc_reason, successor, username in rows.iterator(
        chunk_size=5000
    ):
        yield AccountRow(
            person=code,
            kind=person_kind,
            state=acc_state,
            reason=acc_reason or None,
            successor=successor,
            username=username,
            students=students.get(person_id, []) if person_kind != PersonKind.STUDENT else [],
        )
