"""The set-based machinery behind every lifecycle transition.

A transition moves a *selection* of accounts from a set of legal source states to a new state. One call
does, in the caller's transaction: lock the selected rows that are in a legal state, update them with a
single UPDATE … FROM, and insert one audit event per moved account with a single INSERT … SELECT — the
same facts whether one account moves or a million. Rows not in a legal state are left alone and reported
back, so callers can tell the admin exactly what was skipped and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection

from schoolgate.accounts.models import Account
from schoolgate.core import changes, sql
from schoolgate.core.models import AuditEvent, District
from schoolgate.people.models import Person

MOVE_TABLE = "sg_move"
SELECTED_TABLE = "sg_selected"


@dataclass(frozen=True)
class Selection:
    """Accounts to consider: SQL yielding columns `account_id`, `reason`, `successor_id` (no duplicates)."""

    sql: str
    params: tuple[Any, ...] = ()


@dataclass
class MoveResult:
    """What a transition did: the accounts moved and, per skipped account, the state that made it illegal."""

    moved: list[int] = field(default_factory=list)
    # With `want_ids`: each moved account's SIS code, read from the move table (no second query over the ids).
    codes: dict[int, str] = field(default_factory=dict)
    count: int = 0
    # Accounts the transition refused for a reason other than their state (e.g. no free username), and why.
    refused: dict[int, str] = field(default_factory=dict)
    # Accounts that moved but need attention (e.g. no e-mail address to send the welcome to), and why.
    notes: dict[int, str] = field(default_factory=dict)


def select_accounts(account_ids: Iterable[int], *, reason: str | None = None) -> Selection:
    """A selection of explicit account ids (for single and hand-picked bulk actions), optionally carrying the
    reason a flag_for_revocation should record."""
    ids = sorted(set(account_ids))
    with connection.cursor() as cursor:
        sql.create_temp_table(cursor, SELECTED_TABLE, "account_id BIGINT PRIMARY KEY")
        sql.load_rows(cursor, SELECTED_TABLE, ["account_id"], [(i,) for i in ids])
    if reason:
        return Selection(
            f"SELECT account_id, %s AS reason, CAST(NULL AS BIGINT) AS successor_id FROM {SELECTED_TABLE}",
            (reason,),
        )
    return Selection(
        f"SELECT account_id, CAST(NULL AS VARCHAR(20)) AS reason, CAST(NULL AS BIGINT) AS successor_id FROM {SELECTED_TABLE}"
    )


def audit_json(alias: str, prefix: str = "") -> str:
    """The audit snapshot of an account row (or of the saved `old_*` columns of the move table)."""
    return sql.json_object(
        {
            "state": f"{alias}.{prefix}state",
            "reason": f"{alias}.{prefix}reason",
            "username": f"{alias}.{prefix}username",
        }
    )


def move(
    district: District,
    *,
    action: str,
    sources: Sequence[str],
    selection: Selection,
    set_sql: str,
    set_params: Sequence[Any] = (),
    actor: str,
    now: datetime,
    run_id: int | None = None,
    want_ids: bool = False,
    then: Sequence[tuple[str, Sequence[Any]]] = (),
) -> MoveResult:
    """Move the selected accounts that are in one of `sources`; see the module docstring.

    `set_sql` is the SET list of the UPDATE; it may read the move table as `m` (m.new_reason,
    m.successor_id, m.old_state …). `then` are further statements run while the move table `sg_move` exists
    (e.g. creating invitations for the moved accounts).
    """
    account, person, audit = sql.table(Account), sql.table(Person), sql.table(AuditEvent)
    stamp = sql.db_datetime(now)
    states = ", ".join("%s" for _ in sources)
    with connection.cursor() as cursor:
        sql.create_temp_table(
            cursor,
            MOVE_TABLE,
            "account_id BIGINT PRIMARY KEY, person_id BIGINT, old_state VARCHAR(20), old_reason VARCHAR(20),"
            " old_username VARCHAR(150), new_reason VARCHAR(20), successor_id BIGINT",
        )
        lock = "FOR UPDATE OF a" if sql.is_postgres() else ""
        cursor.execute(
            f"""
            INSERT INTO {MOVE_TABLE}
            SELECT a.id, a.person_id, a.state, a.reason, a.username, sel.reason, sel.successor_id
            FROM {account} a JOIN ({selection.sql}) sel ON sel.account_id = a.id
            WHERE a.district_id = %s AND a.state IN ({states})
            {lock}
            """,
            [*selection.params, district.pk, *sources],
        )
        sql.analyze(cursor, MOVE_TABLE)
        cursor.execute(
            f"""
            UPDATE {account} SET {set_sql}, state_changed_at = %s
            FROM {MOVE_TABLE} m WHERE {account}.id = m.account_id
            """,
            [*set_params, stamp],
        )
        count = cursor.rowcount
        cursor.execute(
            f"""
            INSERT INTO {audit}
                (district_id, at, actor, action, target_type, target_id, target_label, run_id, before, after)
            SELECT %s, %s, %s, %s, 'account', m.account_id, p.sis_code, %s,
                   {
                sql.json_object(
                    {"state": "m.old_state", "reason": "m.old_reason", "username": "m.old_username"}
                )
            },
                   {audit_json("a")}
            FROM {MOVE_TABLE} m
            JOIN {account} a ON a.id = m.account_id
            JOIN {person} p ON p.id = m.person_id
            """,
            [district.pk, stamp, actor, action, run_id],
        )
        for statement, params in then:
            cursor.execute(statement, params)
        changes.accounts_changed(district.pk, f"SELECT account_id FROM {MOVE_TABLE}")
        moved: list[int] = []
        codes: dict[int, str] = {}
        if want_ids:
            cursor.execute(
                f"SELECT m.account_id, p.sis_code FROM {MOVE_TABLE} m JOIN {person} p ON p.id = m.person_id"
                " ORDER BY m.account_id"
            )
            codes = dict(cursor.fetchall())
            moved = list(codes)
        sql.drop_temp_table(cursor, MOVE_TABLE)
    return MoveResult(moved=moved, codes=codes, count=count)
