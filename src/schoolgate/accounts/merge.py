"""Duplicate contact records (the same mother entered once per sibling): finding them, and merging them.

`find_duplicates` pairs contacts with strong identity evidence (a mother and a father sharing a household
e-mail are not a pair). `merge_contacts` makes one record of two in one audited transaction: the dropped
record's links move to the kept one (so one login sees every child), its overrides follow, and it stays as
history with `merged_into` set — its SIS code is then an alias the sync maps onto the kept record, so the next
sync does not undo the merge. Logins: if only the dropped record had one, it moves to the kept record; if both
had one, the dropped record's login is superseded and waits for revocation.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from schoolgate.accounts.models import Account, AccountState
from schoolgate.accounts.reconcile import reconcile_people
from schoolgate.accounts.transfer import HOLDS_CREDENTIALS, transfer_login
from schoolgate.core import audit, sql
from schoolgate.core.models import District
from schoolgate.people.evaluation import evaluate_links
from schoolgate.people.identity import Candidate, duplicate_pairs
from schoolgate.people.models import Link, Override, Person, PersonKind

# How good a login a record holds, for choosing which record to keep.
STATE_RANK = {
    AccountState.ACTIVE: 0,
    AccountState.INVITED: 1,
    AccountState.READY_TO_REVOKE: 2,
    AccountState.READY_TO_PROVISION: 3,
    AccountState.REVOKED: 4,
}


class MergeRejected(ValueError):
    """The merge cannot be made; the message says why."""


@dataclass(frozen=True)
class DuplicatePair:
    keep: str
    drop: str
    score: float
    reasons: list[str]

    def as_dict(self) -> dict:
        return {"keep": self.keep, "drop": self.drop, "score": self.score, "reasons": self.reasons}


def find_duplicates(district: District) -> list[DuplicatePair]:
    """Current contact records that look like the same human, with the record to keep first."""
    person = sql.table(Person)
    # Only records sharing an e-mail or a full name with another record can pair: prefilter in SQL.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT p.id, p.sis_code, p.kind, p.preferred_given_name, p.given_name, p.family_name, p.email,
                       p.phone, p.sms
                FROM {person} p
                WHERE p.district_id = %s AND p.kind = %s AND p.in_sis AND p.merged_into_id IS NULL AND (
                    (p.email <> '' AND LOWER(p.email) IN (
                        SELECT LOWER(x.email) FROM {person} x WHERE x.district_id = %s AND x.kind = %s
                          AND x.in_sis AND x.merged_into_id IS NULL AND x.email <> ''
                        GROUP BY LOWER(x.email) HAVING COUNT(*) > 1))
                    OR LOWER(p.family_name) IN (
                        SELECT LOWER(x.family_name) FROM {person} x WHERE x.district_id = %s AND x.kind = %s
                          AND x.in_sis AND x.merged_into_id IS NULL AND x.family_name <> ''
                        GROUP BY LOWER(x.family_name) HAVING COUNT(*) > 1))""",
            [district.pk, PersonKind.CONTACT] * 3,
        )
        rows = cursor.fetchall()
    candidates = [
        Candidate.of(pid, code, kind, preferred or given, family, email, phone, sms)
        for pid, code, kind, preferred, given, family, email, phone, sms in rows
    ]
    ranks = {
        person_id: STATE_RANK.get(state, 5)
        for person_id, state in Account.objects.filter(
            person_id__in=[c.person_id for c in candidates]
        ).values_list("person_id", "state")
    }
    pairs = []
    for a, b, evidence in duplicate_pairs(candidates):
        keep, drop = sorted((a, b), key=lambda c: (ranks.get(c.person_id, 5), c.person_id))
        pairs.append(DuplicatePair(keep.code, drop.code, evidence.score, evidence.reasons))
    return sorted(pairs, key=lambda p: (-p.score, p.keep, p.drop))


def merge_contacts(district: District, keep_code: str, drop_code: str, *, actor: str) -> dict:
    """Merge `drop_code` into `keep_code`; see the module docstring. Returns what was done."""
    if keep_code == drop_code:
        raise MergeRejected("a record cannot be merged into itself")
    with transaction.atomic():
        people = {
            p.sis_code: p
            for p in Person.objects.select_for_update().filter(
                district=district, sis_code__in=[keep_code, drop_code]
            )
        }
        for code in (keep_code, drop_code):
            if code not in people:
                raise MergeRejected(f"no person {code!r} in this district")
        keep, drop = people[keep_code], people[drop_code]
        for person in (keep, drop):
            if person.merged_into_id:
                raise MergeRejected(f"{person.sis_code} was already merged into another record")
            if person.kind == PersonKind.STUDENT:
                raise MergeRejected(f"{person.sis_code} is a student; only contact records are merged")
        moved = _move_links(district, keep, drop, actor)
        drop.merged_into = keep
        drop.sis_digest = None  # restage both at the next sync, so their SIS rows are mapped afresh
        drop.save(update_fields=["merged_into", "sis_digest"])
        Person.objects.filter(pk=keep.pk).update(sis_digest=None)
        evaluate_links(district, f"SELECT {int(keep.pk)} AS person_id")
        reconcile_people(district, [keep.pk, drop.pk], actor=actor)
        transferred = _carry_login(district, keep, drop, actor)
        audit.record(
            district, actor, "person.merged", target_type="person", target_id=keep.pk, target_label=keep_code,
            before={"records": [keep_code, drop_code]},
            after={"records": [keep_code], "aliases": [drop_code], "students_moved": moved,
                   "login_transferred": transferred},
        )  # fmt: skip
    return {"keep": keep_code, "drop": drop_code, "students_moved": moved, "login_transferred": transferred}


def _move_links(district: District, keep: Person, drop: Person, actor: str) -> list[str]:
    """Re-point the dropped record's links at the kept one; where both link the same student, fold them."""
    moved = []
    kept = {link.student_id: link for link in Link.objects.filter(district=district, contact=keep)}
    for link in Link.objects.filter(district=district, contact=drop).select_related("student"):
        moved.append(link.student.sis_code)
        target = kept.get(link.student_id)
        if target is None:
            link.contact = keep
            link.save(update_fields=["contact"])
            continue
        target.declared_by_student |= link.declared_by_student
        target.declared_by_contact |= link.declared_by_contact
        target.in_sis |= link.in_sis
        target.save(update_fields=["declared_by_student", "declared_by_contact", "in_sis"])
        # The kept record's own decision wins where both had one; the other is closed, and all history moves.
        taken = set(
            Override.objects.filter(link=target, removed_at__isnull=True).values_list("field", flat=True)
        )
        Override.objects.filter(link=link, removed_at__isnull=True, field__in=taken).update(
            removed_at=timezone.now(), removed_by=actor
        )
        Override.objects.filter(link=link).update(link=target)
        link.delete()
    return sorted(moved)


def _carry_login(district: District, keep: Person, drop: Person, actor: str) -> bool:
    """If only the dropped record had a login, it becomes the kept record's."""
    accounts = {a.person_id: a for a in Account.objects.filter(person__in=[keep, drop])}
    dropped, kept = accounts.get(drop.pk), accounts.get(keep.pk)
    if dropped is None or dropped.state not in HOLDS_CREDENTIALS:
        return False
    if (
        kept is None
        or kept.state not in (AccountState.READY_TO_PROVISION, AccountState.INVITED)
        or kept.activated_at
    ):
        return False
    transfer_login(district, drop.sis_code, keep.sis_code, actor=actor)
    return True
