"""Supersession: a login whose person left (or lost every student) while a new record of the same human
appeared — a contact-code change, a family split.

Runs inside reconciliation, on its plan. Old side: people whose credentials are about to become unwanted (or
already are: ready_to_revoke with no successor yet). New side: eligible people without usable credentials.
Strong matches change the plan: the old account goes to `ready_to_revoke` with reason `superseded` and names its
successor. Every match, strong or weak, is recorded with its evidence; only strong ones are ever acted on.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from schoolgate.accounts.models import Account, AccountState, RevokeReason
from schoolgate.core import sql
from schoolgate.core.models import District
from schoolgate.people.identity import Candidate, Evidence, best_matches
from schoolgate.people.models import IdentityMatch, Person

# Reasons that mean "this record went away", as opposed to a deliberate decision (flag, duplicate username).
WENT_AWAY = (RevokeReason.LEFT_SIS, RevokeReason.NO_STUDENTS, RevokeReason.NOT_LINKED)
PERSON_FIELDS = (
    "p.id, p.sis_code, p.kind, p.preferred_given_name, p.given_name, p.family_name, p.email, p.phone, p.sms"
)


@dataclass(frozen=True)
class Found:
    old: str
    new: str
    strength: str
    score: float
    reasons: list[str]

    def as_dict(self) -> dict:
        return {"old": self.old, "new": self.new, "strength": self.strength, "score": self.score,
                "reasons": self.reasons}  # fmt: skip


def _candidates(rows: list[tuple]) -> list[Candidate]:
    return [
        Candidate.of(pid, code, kind, preferred or given, family, email, phone, sms)
        for pid, code, kind, preferred, given, family, email, phone, sms in rows
    ]


def detect(district: District, plan_table: str) -> list[Found]:
    """Find successors for the plan's departing logins and rewrite the plan for strong matches."""
    person, account = sql.table(Person), sql.table(Account)
    d = district.pk
    went_away = ", ".join(f"'{r}'" for r in WENT_AWAY)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT {PERSON_FIELDS} FROM {plan_table} m JOIN {person} p ON p.id = m.person_id
                WHERE m.move = 'flag' AND m.reason IN ({went_away}) AND m.old_state IN ('invited', 'active')
                UNION
                SELECT {PERSON_FIELDS} FROM {account} a JOIN {person} p ON p.id = a.person_id
                WHERE a.district_id = %s AND a.state = 'ready_to_revoke' AND a.reason IN ({went_away})
                  AND a.successor_id IS NULL
                  AND NOT EXISTS (SELECT 1 FROM {plan_table} m WHERE m.person_id = a.person_id)""",
            [d],
        )
        old_rows = cursor.fetchall()
        if not old_rows:
            return []
        olds = _candidates(old_rows)
        # Prefilter keys, compared with SQL's LOWER(); the matcher then normalises properly.
        keys = {
            (email.strip().lower(), family.strip().lower()) for *_, family, email, _phone, _sms in old_rows
        }
        sql.create_temp_table(cursor, "sg_oldkeys", "email VARCHAR(320), family VARCHAR(255)")
        sql.load_rows(cursor, "sg_oldkeys", ["email", "family"], sorted(keys))
        # New side: eligible now, no usable credentials (listed this run, ready_to_provision, or invited but
        # never activated), sharing an e-mail or family name with a departing record.
        eligible_new = f"""(p.id IN (SELECT m.person_id FROM {plan_table} m WHERE m.move = 'list')
              OR p.id IN (SELECT a.person_id FROM {account} a WHERE a.district_id = {int(d)}
                          AND (a.state = 'ready_to_provision'
                               OR (a.state = 'invited' AND a.activated_at IS NULL))))"""
        cursor.execute(
            f"""SELECT {PERSON_FIELDS} FROM {person} p JOIN sg_oldkeys k ON LOWER(p.email) = k.email
                WHERE p.district_id = %s AND p.email <> '' AND {eligible_new}
                UNION
                SELECT {PERSON_FIELDS} FROM {person} p JOIN sg_oldkeys k ON LOWER(p.family_name) = k.family
                WHERE p.district_id = %s AND p.family_name <> '' AND {eligible_new}""",
            [d, d],
        )
        news = _candidates(cursor.fetchall())
        sql.drop_temp_table(cursor, "sg_oldkeys")
        pairs = best_matches(olds, news)
        found = [_record(district, old, new, evidence) for old, new, evidence in pairs]
        for (old, new, evidence), _ in zip(pairs, found, strict=True):
            if evidence.strength != "strong":
                continue
            cursor.execute(
                f"""UPDATE {plan_table} SET move = 'flag', reason = %s, successor_id = %s
                    WHERE person_id = %s""",
                [RevokeReason.SUPERSEDED, new.person_id, old.person_id],
            )
            if cursor.rowcount == 0:  # already ready_to_revoke, not in this plan: add the reason change
                cursor.execute(
                    f"""INSERT INTO {plan_table} (person_id, account_id, move, old_state, reason, successor_id)
                        SELECT a.person_id, a.id, 'flag', a.state, %s, %s FROM {account} a
                        WHERE a.person_id = %s""",
                    [RevokeReason.SUPERSEDED, new.person_id, old.person_id],
                )
    return found


def _record(district: District, old: Candidate, new: Candidate, evidence: Evidence) -> Found:
    IdentityMatch.objects.update_or_create(
        old_id=old.person_id,
        new_id=new.person_id,
        defaults={
            "district": district,
            "score": evidence.score,
            "reasons": evidence.reasons,
            "strength": evidence.strength,
            "found_at": timezone.now(),
        },
    )
    return Found(old.code, new.code, evidence.strength or "", evidence.score, evidence.reasons)


def pending_transfers(district: District, found: list[Found]) -> list[tuple[str, str]]:
    """Strong matches whose old login still holds credentials: what automatic transfer would carry over."""
    olds = {f.old: f.new for f in found if f.strength == "strong"}
    holding = Account.objects.filter(
        district=district,
        person__sis_code__in=list(olds),
        state__in=[AccountState.INVITED, AccountState.ACTIVE, AccountState.READY_TO_REVOKE],
    ).values_list("person__sis_code", flat=True)
    return [(code, olds[code]) for code in sorted(holding)]
