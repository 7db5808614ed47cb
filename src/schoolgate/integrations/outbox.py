"""Recording what integrations must deliver, in the transaction that changed the accounts.

`record_changes` is subscribed to `core.changes` (see apps.py). For a district without SCIM targets or
webhook endpoints it costs one indexed query; otherwise it writes, set-based:

- one `ScimPush` row per (target, account), upserted: a change to an account already waiting only bumps the
  row's version and keeps its `dirty_since`, so a thousand changes to one account are still one push, and the
  worker always sends the account's *current* state (which also keeps pushes per account in order);
- one `WebhookDelivery` per (endpoint, account) for endpoints subscribed to the event (events.py).

Each row's priority is decided here from the account's state after the change: an account that must be
inactive downstream (revoked, back to ready_to_provision, or deleted) is a revocation and goes first.

After the commit the worker is kicked once per transaction, as the mail outbox does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from schoolgate.accounts.models import Account, AccountState
from schoolgate.core import sql
from schoolgate.core.background import after_commit_once
from schoolgate.integrations import events
from schoolgate.integrations.models import (
    PushPriority,
    PushStatus,
    ScimPush,
    ScimTarget,
    WebhookEndpoint,
)

logger = logging.getLogger(__name__)

# States in which the account must not be usable downstream.
INACTIVE_STATES = (AccountState.REVOKED, AccountState.READY_TO_PROVISION)


def record_changes(district_id: int, account_sql: str, params: Sequence[Any]) -> None:
    """The `core.changes` subscriber: record pushes and webhook events for the accounts `account_sql`
    selects (column `account_id`), in the caller's transaction."""
    target, endpoint = sql.table(ScimTarget), sql.table(WebhookEndpoint)
    with connection.cursor() as cursor:
        # One statement, two index probes: the common case (no integrations) stops here.
        cursor.execute(
            f"""SELECT EXISTS (SELECT 1 FROM {target} WHERE district_id = %s),
                       EXISTS (SELECT 1 FROM {endpoint} WHERE district_id = %s AND enabled = {sql.sql_true()})""",
            [district_id, district_id],
        )
        has_targets, has_endpoints = cursor.fetchone()
        if not (has_targets or has_endpoints):
            return
        # The selection may be a temporary table the caller drops right after: read it once, here.
        selection = f"SELECT DISTINCT account_id FROM ({account_sql}) changed_sel"
        if has_targets:
            queue_pushes(cursor, district_id, selection, params)
        if has_endpoints:
            events.record_account_events(cursor, district_id, selection, params)
    kick_after_commit()


def queue_pushes(
    cursor: Any,
    district_id: int,
    selection: str,
    params: Sequence[Any],
    *,
    target_id: int | None = None,
) -> int:
    """Upsert a pending push for every (target of the district — or only `target_id` —, selected account);
    the number of rows.

    Disabled targets are recorded too (their rows wait), so switching a target back on loses nothing.
    """
    push, target, account = sql.table(ScimPush), sql.table(ScimTarget), sql.table(Account)
    now = sql.db_datetime(timezone.now())
    inactive = ", ".join(f"'{s}'" for s in INACTIVE_STATES)
    only_target = "" if target_id is None else "AND t.id = %s"
    target_params = [] if target_id is None else [target_id]
    # ON CONFLICT: PostgreSQL and SQLite (3.24+) share this spelling. The `WHERE 1 = 1` is what lets SQLite
    # parse `INSERT … SELECT … ON CONFLICT` (otherwise it takes ON for a join constraint).
    cursor.execute(
        f"""
        INSERT INTO {push} (district_id, target_id, account_id, status, priority, version, dirty_since,
                            attempts, next_attempt_at, last_error, downstream_id, last_pushed_hash)
        SELECT %s, t.id, sel.account_id, '{PushStatus.PENDING}',
               CASE WHEN a.id IS NULL OR a.state IN ({inactive}) THEN {PushPriority.REVOKE}
                    ELSE {PushPriority.UPDATE} END,
               1, %s, 0, %s, '', '', ''
        FROM ({selection}) sel
        JOIN {target} t ON t.district_id = %s {only_target}
        LEFT JOIN {account} a ON a.id = sel.account_id AND a.district_id = %s
        WHERE 1 = 1
        ON CONFLICT (target_id, account_id) DO UPDATE SET
            status = '{PushStatus.PENDING}',
            priority = excluded.priority,
            version = {push}.version + 1,
            dirty_since = COALESCE({push}.dirty_since, excluded.dirty_since),
            attempts = 0,
            last_error = '',
            -- a row in flight keeps its lease: the worker sees the new version when it finishes and pushes
            -- again; otherwise the change is due now (also cutting short a retry's back-off)
            next_attempt_at = CASE WHEN {push}.status = '{PushStatus.PENDING}' AND {push}.attempts = 0
                                        AND {push}.next_attempt_at > excluded.next_attempt_at
                                   THEN {push}.next_attempt_at ELSE excluded.next_attempt_at END
        """,
        [district_id, now, now, *params, district_id, *target_params, district_id],
    )
    return cursor.rowcount


def queue_all_accounts(target: ScimTarget) -> int:
    """A new (or re-synchronised) target gets every account of its district, revocations first."""
    account = sql.table(Account)
    with transaction.atomic(), connection.cursor() as cursor:
        count = queue_pushes(
            cursor,
            target.district_id,
            f"SELECT id AS account_id FROM {account} WHERE district_id = %s",
            [target.district_id],
            target_id=target.pk,
        )
        kick_after_commit()
    return count


def kick_after_commit() -> None:
    """Queue the worker's task once this transaction commits (once per transaction, not per change)."""
    after_commit_once(_kick)


def _kick() -> None:
    from schoolgate.integrations.tasks import schedule_run  # tasks imports httpx and the pushers

    schedule_run()
