"""Carry a login over to the record that succeeds it (contact-code change, family split, merge).

One transaction: the old account gives up its credentials (→ `revoked`, reason `superseded`, naming its
successor: every session and token of the old login dies) and the new account takes them (username, password
hash, activation, must-change flag) — `active` if the old login had been activated, else `invited` with a fresh
welcome link. The old login's per-student overrides move to the same students on the new record's links.
Both accounts get an audit event. Nothing is e-mailed: the person logs in as before.

A login still in use on its own record (invited or active, not flagged for revocation) moves only when a sync
found the new record to be the same person (an identity match) or the admin says it is (`same_person`): a
mistyped code must not hand one parent's password to another parent's record and children.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from schoolgate.accounts.lifecycle import INVITATION_DAYS
from schoolgate.accounts.models import Account, AccountState, Invitation, RevokeReason
from schoolgate.core import audit
from schoolgate.core.models import District
from schoolgate.core.refusals import INVALID, MISSING, Refused
from schoolgate.people.evaluation import evaluate_links
from schoolgate.people.models import IdentityMatch, Link, Override, Person

HOLDS_CREDENTIALS = (AccountState.INVITED, AccountState.ACTIVE, AccountState.READY_TO_REVOKE)


class TransferRejected(Refused):
    """The transfer cannot be made; the message says why."""


@dataclass(frozen=True)
class Transferred:
    old: str
    new: str
    username: str | None
    state: str
    overrides_moved: int

    def as_dict(self) -> dict:
        return {"from": self.old, "to": self.new, "username": self.username, "state": self.state,
                "overrides_moved": self.overrides_moved}  # fmt: skip


def _snapshot(account: Account) -> dict:
    return {"state": account.state, "reason": account.reason, "username": account.username}


def transfer_login(
    district: District, old_code: str, new_code: str, *, actor: str, same_person: bool = False
) -> Transferred:
    """Move the login of `old_code` to `new_code`; see the module docstring. `same_person`: the admin states
    the two records are one person (needed for a login still in use that no identity match links)."""
    if old_code == new_code:
        raise TransferRejected("a login cannot be transferred to the same record", kind=INVALID)
    with transaction.atomic():
        people = {
            p.sis_code: p for p in Person.objects.filter(district=district, sis_code__in=[old_code, new_code])
        }
        for code in (old_code, new_code):
            if code not in people:
                raise TransferRejected(f"no person {code!r} in this district", kind=MISSING)
        old_person, new_person = people[old_code], people[new_code]
        if old_person.kind != new_person.kind and not {old_person.kind, new_person.kind} <= {
            "contact",
            "staff",
        }:
            raise TransferRejected(f"{old_code} is a {old_person.kind} and {new_code} a {new_person.kind}")
        accounts = {
            a.person_id: a for a in Account.objects.select_for_update().filter(person__in=people.values())
        }
        old = accounts.get(old_person.pk)
        if old is None or old.state not in HOLDS_CREDENTIALS:
            state = old.state if old else "without an account"
            raise TransferRejected(f"{old_code} has no login to transfer (it is {state})")
        in_use = old.state in (AccountState.INVITED, AccountState.ACTIVE)
        if (
            in_use
            and not same_person
            and not IdentityMatch.objects.filter(old=old_person, new=new_person).exists()
        ):
            raise TransferRejected(
                f"{old_code}'s login is still in use on its own record, and no sync found {new_code} to be the "
                f"same person: check the two codes, and confirm they are the same person to transfer anyway"
            )
        new = accounts.get(new_person.pk)
        if new is None:
            raise TransferRejected(f"{new_code} is not eligible for a login (no account is listed for it)")
        if new.state not in (AccountState.READY_TO_PROVISION, AccountState.INVITED) or new.activated_at:
            raise TransferRejected(
                f"{new_code} already has its own login ({new.state}); revoke one of them instead"
            )
        now = timezone.now()
        old_before, new_before = _snapshot(old), _snapshot(new)
        carried = {
            "username": old.username,
            "username_key": old.username_key,
            "password_hash": old.password_hash,
            "must_change_password": old.must_change_password,
            "activated_at": old.activated_at,
            "invited_at": old.invited_at or now,
        }
        # The old login gives up its username first: the district-wide unique constraint holds at every step.
        old.state, old.reason, old.successor = AccountState.REVOKED, RevokeReason.SUPERSEDED, new_person
        old.username = old.username_key = None
        old.password_hash = ""
        old.credentials_version += 1
        old.revoked_at = old.state_changed_at = now
        old.save()
        Invitation.objects.filter(
            account__in=[old, new], used_at__isnull=True, withdrawn_at__isnull=True
        ).update(withdrawn_at=now)
        for name, value in carried.items():
            setattr(new, name, value)
        new.state = AccountState.ACTIVE if carried["activated_at"] else AccountState.INVITED
        new.reason, new.successor = "", None
        new.credentials_version += 1
        new.state_changed_at = now
        new.save()
        if new.state == AccountState.INVITED:  # the old welcome link died with the old login
            Invitation.objects.create(
                district=district,
                account=new,
                created_at=now,
                expires_at=now + timedelta(days=INVITATION_DAYS),
            )
        moved = _move_overrides(district, old_person, new_person, actor)
        if moved:
            evaluate_links(district, f"SELECT {int(new_person.pk)} AS person_id")
        IdentityMatch.objects.filter(old=old_person, new=new_person).update(transferred_at=now)
        for account, person, before, action in (
            (old, old_person, old_before, "account.transferred_out"),
            (new, new_person, new_before, "account.transferred_in"),
        ):
            audit.record(
                district, actor, action, target_type="account", target_id=account.pk,
                target_label=person.sis_code, before=before,
                after={**_snapshot(account), "counterpart": (new_code if account is old else old_code)},
            )  # fmt: skip
    return Transferred(old_code, new_code, new.username, new.state, moved)


def _move_overrides(district: District, old: Person, new: Person, actor: str) -> int:
    """The old record's overrides, per student, re-created on the new record's link to the same student."""
    now = timezone.now()
    moved = 0
    targets = {link.student_id: link for link in Link.objects.filter(district=district, contact=new)}
    for override in Override.objects.filter(link__contact=old, removed_at__isnull=True).select_related(
        "link"
    ):
        override.removed_at, override.removed_by = now, actor
        override.save(update_fields=["removed_at", "removed_by"])
        target = targets.get(override.link.student_id)
        if (
            target is None
            or Override.objects.filter(link=target, field=override.field, removed_at__isnull=True).exists()
        ):
            continue
        Override.objects.create(
            district=district, link=target, field=override.field, value=override.value,
            reason=f"{override.reason} (carried over from {old.sis_code})", expires_at=override.expires_at,
            created_by=actor, created_at=now,
        )  # fmt: skip
        moved += 1
    return moved
