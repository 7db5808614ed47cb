"""Reconcile: from the people, links and flags the district now holds, work out what each account should be.

One SQL statement computes, for every person of the district at once, whether they are eligible and, if not,
the reason (the first that applies: `left_sis`, `flag_removed`, `no_students`, `not_linked`). The differences
with the accounts' current states become moves, each applied by its lifecycle function set-based. Nothing
changes for a person whose state is already right, so re-running the same snapshot writes nothing.

`plan()` only computes (the sync engine needs the plan to decide whether to hold a run); `apply()` carries a
plan out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db import connection, transaction

from schoolgate.accounts import lifecycle, supersession
from schoolgate.accounts.models import Account, AccountState, RevokeReason
from schoolgate.accounts.moves import Selection
from schoolgate.core import sql
from schoolgate.core.models import District
from schoolgate.people.models import Link, Person, PersonKind

PLAN_TABLE = "sg_plan"
AFFECTED_TABLE = "sg_affected"
S = AccountState

# The move each (current state, eligible?) pair calls for. Reason changes of ready_to_revoke accounts are
# handled in the SQL below, as "flag" moves.
MOVES = {
    "list": "eligible, no account",
    "withdraw": "ready_to_provision, not eligible",
    "flag": "invited/active (or ready_to_revoke with another reason), not eligible",
    "restore": "ready_to_revoke, eligible",
    "reinstate": "revoked, eligible",
}

# Where each move takes the account, for reports and for the mass-revocation guard.
MOVE_TARGET = {
    "list": S.READY_TO_PROVISION,
    "withdraw": None,
    "flag": S.READY_TO_REVOKE,
    "restore": "active or invited",
    "reinstate": S.READY_TO_PROVISION,
}


@dataclass
class Plan:
    """What reconciliation would do. Lives in the temporary table PLAN_TABLE until applied or discarded."""

    counts: Counter = field(default_factory=Counter)
    revoking: int = 0  # invited/active accounts that would move to ready_to_revoke
    holding: int = 0  # invited/active accounts before the run: the guard's base
    matches: list[supersession.Found] = field(default_factory=list)  # successors found, strong and weak

    def as_dict(self) -> dict[str, int]:
        return {move: self.counts.get(move, 0) for move in MOVES}


def plan(district: District, scope: str | None = None) -> Plan:
    """Compute people's targets and store the needed moves in PLAN_TABLE.

    `scope`, when given, is SQL yielding the ids of people whose data changed; only they and the contacts
    linked to them (whose visible students may have changed) are planned. Without it, everyone is.
    """
    person, link, account = sql.table(Person), sql.table(Link), sql.table(Account)
    truthy = "= 1" if not sql.is_postgres() else ""
    people_filter = links_filter = ""
    with connection.cursor() as cursor:
        if scope is not None:
            sql.create_temp_table(cursor, AFFECTED_TABLE, "person_id BIGINT PRIMARY KEY")
            cursor.execute(f"INSERT INTO {AFFECTED_TABLE} {scope}")
            cursor.execute(
                f"""INSERT INTO {AFFECTED_TABLE} SELECT DISTINCT l.contact_id FROM {link} l
                    JOIN ({scope}) x ON x.person_id = l.student_id
                    WHERE l.district_id = %s
                      AND NOT EXISTS (SELECT 1 FROM {AFFECTED_TABLE} a WHERE a.person_id = l.contact_id)""",
                [district.pk],
            )
            sql.analyze(cursor, AFFECTED_TABLE)
            people_filter = f"AND p.id IN (SELECT person_id FROM {AFFECTED_TABLE})"
            links_filter = f"AND l.contact_id IN (SELECT person_id FROM {AFFECTED_TABLE})"
        sql.create_temp_table(
            cursor,
            PLAN_TABLE,
            "person_id BIGINT PRIMARY KEY, account_id BIGINT, move VARCHAR(12), old_state VARCHAR(20),"
            " reason VARCHAR(20), successor_id BIGINT",
        )
        # may_see: a link the contact may use to see the student right now.
        cursor.execute(
            f"""
            INSERT INTO {PLAN_TABLE} (person_id, account_id, move, old_state, reason, successor_id)
            SELECT t.person_id, t.account_id,
                CASE
                    WHEN t.account_id IS NULL THEN CASE WHEN t.eligible {truthy} THEN 'list' END
                    WHEN t.eligible {truthy} THEN
                        CASE WHEN t.state = %s AND t.cur_reason <> 'duplicate_username' THEN 'restore'
                             WHEN t.state = %s THEN 'reinstate' END
                    ELSE CASE
                        WHEN t.state = %s THEN 'withdraw'
                        WHEN t.state IN (%s, %s) THEN 'flag'
                        -- A login superseded by a newer record (found by supersession.detect, not a merge)
                        -- stays so while its own record is gone: left_sis would drop the successor, and
                        -- the next run would find the match again and flip it back.
                        WHEN t.state = %s AND t.cur_reason = '{RevokeReason.SUPERSEDED}'
                             AND t.reason = '{RevokeReason.LEFT_SIS}' THEN NULL
                        WHEN t.state = %s AND (t.cur_reason <> t.reason
                                               OR {sql.differs("t.cur_successor", "t.successor_id")}) THEN 'flag'
                    END
                END,
                t.state, t.reason, t.successor_id
            FROM (
                SELECT p.id AS person_id, a.id AS account_id, a.state AS state, a.reason AS cur_reason,
                    a.successor_id AS cur_successor, p.merged_into_id AS successor_id,
                    ((p.in_sis OR al.kept_id IS NOT NULL) AND p.enabled AND p.merged_into_id IS NULL
                     AND (p.login_allowed OR COALESCE(cl.may_see, 0) = 1)) AS eligible,
                    CASE
                        WHEN p.merged_into_id IS NOT NULL THEN %s
                        WHEN NOT (p.in_sis OR al.kept_id IS NOT NULL) THEN %s
                        WHEN NOT p.enabled OR p.kind <> %s THEN %s
                        WHEN COALESCE(cl.has_student, 0) = 1 THEN %s
                        WHEN COALESCE(cl.any_link, 0) > 0 THEN %s
                        ELSE %s
                    END AS reason
                FROM {person} p
                LEFT JOIN {account} a ON a.person_id = p.id
                LEFT JOIN (
                    SELECT l.contact_id AS contact_id,
                        MAX(CASE WHEN l.in_sis AND l.portal_flag AND s.in_sis THEN 1 ELSE 0 END) AS may_see,
                        MAX(CASE WHEN l.in_sis AND s.in_sis AND s.enabled THEN 1 ELSE 0 END) AS has_student,
                        COUNT(*) AS any_link
                    FROM {link} l JOIN {person} s ON s.id = l.student_id
                    WHERE l.district_id = %s {links_filter}
                    GROUP BY l.contact_id
                ) cl ON cl.contact_id = p.id
                -- A kept record is still in the SIS while one of the records merged into it is: the SIS may
                -- drop the kept code and go on with the other, whose links the mirror maps onto the kept one.
                LEFT JOIN (
                    SELECT merged_into_id AS kept_id FROM {person}
                    WHERE district_id = %s AND merged_into_id IS NOT NULL AND in_sis
                    GROUP BY merged_into_id
                ) al ON al.kept_id = p.id
                WHERE p.district_id = %s {people_filter}
            ) t
            """,
            [
                S.READY_TO_REVOKE, S.REVOKED,
                S.READY_TO_PROVISION, S.INVITED, S.ACTIVE, S.READY_TO_REVOKE, S.READY_TO_REVOKE,
                RevokeReason.SUPERSEDED, RevokeReason.LEFT_SIS, PersonKind.CONTACT, RevokeReason.FLAG_REMOVED,
                RevokeReason.FLAG_REMOVED, RevokeReason.NO_STUDENTS, RevokeReason.NOT_LINKED,
                district.pk, district.pk, district.pk,
            ],
        )  # fmt: skip
        cursor.execute(f"DELETE FROM {PLAN_TABLE} WHERE move IS NULL")
        cursor.execute(f"CREATE INDEX {PLAN_TABLE}_move_idx ON {PLAN_TABLE} (move)")
        sql.analyze(cursor, PLAN_TABLE)
        result = Plan()
        result.matches = supersession.detect(district, PLAN_TABLE)
        cursor.execute(f"SELECT move, COUNT(*) FROM {PLAN_TABLE} GROUP BY move")
        result.counts.update(dict(cursor.fetchall()))
        result.revoking = sql.scalar(
            cursor, f"SELECT COUNT(*) FROM {PLAN_TABLE} WHERE move = 'flag' AND old_state IN (%s, %s)",
            [S.INVITED, S.ACTIVE],
        )  # fmt: skip
        result.holding = sql.scalar(
            cursor,
            f"SELECT COUNT(*) FROM {account} WHERE district_id = %s AND state IN (%s, %s)",
            [district.pk, S.INVITED, S.ACTIVE],
        )
    return result


def planned_moves(limit: int | None = None) -> list[dict]:
    """The stored plan, one row per person: code, kind, from, to, reason."""
    person = sql.table(Person)
    cap = f"LIMIT {int(limit)}" if limit else ""
    with connection.cursor() as cursor:
        rows = sql.fetch_dicts(
            cursor,
            f"""SELECT p.sis_code AS person, p.kind AS kind, m.move AS move, m.old_state AS old_state,
                       m.reason AS reason, n.sis_code AS successor
                FROM {PLAN_TABLE} m JOIN {person} p ON p.id = m.person_id
                LEFT JOIN {person} n ON n.id = m.successor_id
                ORDER BY m.move, p.sis_code {cap}""",
        )
    return [
        {
            "person": row["person"],
            "kind": row["kind"],
            "from": row["old_state"],
            "to": MOVE_TARGET[row["move"]],
            "reason": row["reason"] if row["move"] == "flag" else None,
            "successor": row["successor"],
        }
        for row in rows
    ]


def apply(
    district: District, *, actor: str, run_id: int | None = None, keep_plan: bool = False
) -> dict[str, int]:
    """Carry out the stored plan through the lifecycle functions; returns moves made per kind.

    `keep_plan` leaves the plan for `planned_moves` (a sync decides whether to hold only after the steps
    that follow this one); `discard_plan` then drops it."""
    done: dict[str, int] = {}
    pick = f"SELECT account_id, reason, successor_id FROM {PLAN_TABLE} WHERE move = %s"
    with transaction.atomic():
        done["list"] = lifecycle.list_for_provisioning(
            district, f"SELECT person_id FROM {PLAN_TABLE} WHERE move = 'list'", actor=actor, run_id=run_id
        )
        done["withdraw"] = lifecycle.withdraw(
            district, Selection(pick, ("withdraw",)), actor=actor, run_id=run_id
        )
        done["flag"] = lifecycle.flag_for_revocation(
            district, Selection(pick, ("flag",)), actor=actor, run_id=run_id
        ).count
        done["restore"] = lifecycle.restore(
            district, Selection(pick, ("restore",)), actor=actor, run_id=run_id
        ).count
        done["reinstate"] = lifecycle.reinstate(
            district, Selection(pick, ("reinstate",)), actor=actor, run_id=run_id
        ).count
        if not keep_plan:
            discard_plan()
    return done


def discard_plan() -> None:
    """Drop the stored plan."""
    with connection.cursor() as cursor:
        sql.drop_temp_table(cursor, PLAN_TABLE)


def reconcile(
    district: District, *, actor: str, run_id: int | None = None, scope: str | None = None
) -> dict[str, int]:
    """Plan and apply in one go, for admin actions that need no guard (an override, a merge, a rule change).

    `scope` limits it to people (SQL yielding `person_id`) and the contacts linked to them.
    """
    with transaction.atomic():
        plan(district, scope)
        return apply(district, actor=actor, run_id=run_id)


def reconcile_people(district: District, person_ids: list[int], *, actor: str) -> dict[str, int]:
    """Reconcile just these people (and the contacts linked to them) after an admin changed them."""
    ids = sorted({int(i) for i in person_ids})
    if not ids:
        return {}
    scope = " UNION ".join(f"SELECT {i} AS person_id" for i in ids)
    return reconcile(district, actor=actor, scope=scope)
