"""The set-based machinery behind every lifecycle transition.

A transition moves a *selection* of accounts from a set of legal source states to a new state. One call
does, in the caller's transaction: read the selected rows that are in a legal state into a move table,
update them with a single UPDATE … FROM, and insert one audit event per moved account with a single
INSERT … SELECT — the same facts whether one account moves or a million. Rows not in a legal state are left
alone and reported back, so callers can tell the admin exactly what was skipped and why.

On PostgreSQL the UPDATE and the audit INSERT are one statement (a data-modifying WITH): the audit rows come
from the UPDATE's RETURNING, and the UPDATE only takes rows still as they were read, so a row another
transaction moved in between is skipped (and reported as such), never moved twice or audited wrongly. This
replaced a SELECT … FOR UPDATE before the UPDATE and a second pass over the accounts for the audit rows
(bulk revoke: BENCHMARKS.md).
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
    account, person = sql.table(Account), sql.table(Person)
    states = ", ".join("%s" for _ in sources)
    with connection.cursor() as cursor:
        sql.create_temp_table(
            cursor,
            MOVE_TABLE,
            "account_id BIGINT PRIMARY KEY, person_id BIGINT, sis_code VARCHAR(255), old_state VARCHAR(20),"
            " old_reason VARCHAR(20), old_username VARCHAR(150), new_reason VARCHAR(20), successor_id BIGINT",
        )
        # A plain read, no row locks: on PostgreSQL the UPDATE below re-checks each row against these saved
        # values and skips any a concurrent transaction changed meanwhile (SQLite has a single writer).
        cursor.execute(
            f"""
            INSERT INTO {MOVE_TABLE}
            SELECT a.id, a.person_id, p.sis_code, a.state, a.reason, a.username, sel.reason, sel.successor_id
            FROM {account} a JOIN ({selection.sql}) sel ON sel.account_id = a.id
            JOIN {person} p ON p.id = a.person_id
            WHERE a.district_id = %s AND a.state IN ({states})
            """,
            [*selection.params, district.pk, *sources],
        )
        selected = cursor.rowcount
        sql.analyze(cursor, MOVE_TABLE)
        audit_columns = _audit_insert(district, action=action, actor=actor, now=now, run_id=run_id)
        if sql.is_postgres():
            count = selected - _update_and_audit_postgres(cursor, set_sql, set_params, now, audit_columns)
        else:
            count = _update_and_audit_sqlite(cursor, set_sql, set_params, now, audit_columns)
        for statement, params in then:
            cursor.execute(statement, params)
        changes.accounts_changed(district.pk, f"SELECT account_id FROM {MOVE_TABLE}")
        moved: list[int] = []
        codes: dict[int, str] = {}
        if want_ids:
            cursor.execute(f"SELECT account_id, sis_code FROM {MOVE_TABLE} ORDER BY account_id")
            codes = dict(cursor.fetchall())
            moved = list(codes)
        sql.drop_temp_table(cursor, MOVE_TABLE)
    return MoveResult(moved=moved, codes=codes, count=count)


def _audit_insert(
    district: District, *, action: str, actor: str, now: datetime, run_id: int | None
) -> tuple[str, list[Any]]:
    """The head of the audit INSERT … SELECT shared by both engines, and its parameters: one event per moved
    account, read from `m` (its id, SIS code and `old_*` values); the caller appends the `after` snapshot."""
    head = f"""
        INSERT INTO {sql.table(AuditEvent)}
            (district_id, at, actor, action, target_type, target_id, target_label, run_id, before, after)
        SELECT %s, %s, %s, %s, 'account', m.account_id, m.sis_code, %s,
               {sql.json_object({"state": "m.old_state", "reason": "m.old_reason", "username": "m.old_username"})},
    """
    return head, [district.pk, sql.db_datetime(now), actor, action, run_id]


def _update_and_audit_postgres(
    cursor: Any, set_sql: str, set_params: Sequence[Any], now: datetime, audit: tuple[str, list[Any]]
) -> int:
    """One statement: update the rows still as they were read, audit exactly those from the UPDATE's
    RETURNING (which carries the move table's columns too, so nothing is visited twice), and drop from the
    move table any row a concurrent transaction changed first. Returns the number dropped."""
    account = sql.table(Account)
    head, audit_params = audit
    unchanged = " AND ".join(
        f"a.{column} IS NOT DISTINCT FROM m.old_{column}" for column in ("state", "reason", "username")
    )
    # The hash join of the move table with the accounts spills to disk at the 4 MB default. Raised for the
    # rest of the transaction only, and never lowered (a sync may have set more).
    cursor.execute(
        "SELECT set_config('work_mem', '64MB', true)"
        " WHERE pg_size_bytes(current_setting('work_mem')) < 64 * 1024 * 1024"
    )
    cursor.execute(
        f"""
        WITH updated AS (
            UPDATE {account} AS a SET {set_sql}, state_changed_at = %s
            FROM {MOVE_TABLE} m WHERE a.id = m.account_id AND {unchanged}
            RETURNING m.account_id, m.sis_code, m.old_state, m.old_reason, m.old_username,
                      a.state, a.reason, a.username
        ), audited AS (
            {head} {audit_json("m")} FROM updated m
        )
        DELETE FROM {MOVE_TABLE} WHERE account_id NOT IN (SELECT account_id FROM updated)
        """,
        [*set_params, sql.db_datetime(now), *audit_params],
    )
    return cursor.rowcount


def _update_and_audit_sqlite(
    cursor: Any, set_sql: str, set_params: Sequence[Any], now: datetime, audit: tuple[str, list[Any]]
) -> int:
    """UPDATE … FROM the move table, then the audit INSERT … SELECT reading the updated rows. Returns the
    number of accounts moved."""
    account = sql.table(Account)
    head, audit_params = audit
    cursor.execute(
        f"""UPDATE {account} SET {set_sql}, state_changed_at = %s
            FROM {MOVE_TABLE} m WHERE {account}.id = m.account_id""",
        [*set_params, sql.db_datetime(now)],
    )
    count = cursor.rowcount
    cursor.execute(
        f"{head} {audit_json('a')} FROM {MOVE_TABLE} m JOIN {account} a ON a.id = m.account_id",
        audit_params,
    )
    return count
