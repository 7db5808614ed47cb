"""Webhook events: which happened, recorded as durable deliveries (one per subscribed endpoint).

Account events come from the same `core.changes` hook as SCIM pushes (see outbox.py). The hook says only
*which* accounts changed, so the event is named by comparing the account's state now with the state webhooks
last announced for it (`AccountMark`):

    ready_to_provision → account.ready_to_provision     a different state than last announced
    invited            → account.provisioned
    active             → account.activated
    ready_to_revoke    → account.ready_to_revoke
    revoked            → account.revoked
    (same state)       → account.changed                 names, e-mail, username, students …
    (account gone)     → account.deleted                 withdrawn before it ever held credentials

Sync events: `sync.finished` when a sync run ends, whatever its outcome (applied, held, rejected, failed),
with the run's id, status and counts; `sync/engine.py` calls `sync_finished` once per run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone

from schoolgate.accounts.models import Account, AccountState
from schoolgate.core import sql
from schoolgate.integrations.models import (
    AccountMark,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from schoolgate.people.models import Person

if TYPE_CHECKING:
    from schoolgate.sync.models import SyncRun

STATE_EVENTS = {
    AccountState.READY_TO_PROVISION: "account.ready_to_provision",
    AccountState.INVITED: "account.provisioned",
    AccountState.ACTIVE: "account.activated",
    AccountState.READY_TO_REVOKE: "account.ready_to_revoke",
    AccountState.REVOKED: "account.revoked",
}
ACCOUNT_CHANGED, ACCOUNT_DELETED, SYNC_FINISHED = "account.changed", "account.deleted", "sync.finished"
EVENT_TYPES = (*STATE_EVENTS.values(), ACCOUNT_CHANGED, ACCOUNT_DELETED, SYNC_FINISHED)


def subscribed(endpoint_alias: str = "e") -> str:
    """SQL: the endpoint `endpoint_alias` wants the event named by column/expression `event_type`."""
    # `event_types` is stored as ",a,b," so one LIKE matches a whole name, never a prefix of another.
    return (
        f"({endpoint_alias}.event_types LIKE '%%,*,%%'"
        f" OR {endpoint_alias}.event_types LIKE '%%,' || event_type || ',%%')"
    )


def record_account_events(cursor: Any, district_id: int, selection: str, params: Sequence[Any]) -> None:
    """Insert deliveries for the selected accounts' events, then remember the states announced."""
    delivery, endpoint = sql.table(WebhookDelivery), sql.table(WebhookEndpoint)
    account, person, mark = sql.table(Account), sql.table(Person), sql.table(AccountMark)
    now = sql.db_datetime(timezone.now())
    naming = " ".join(f"WHEN '{state}' THEN '{name}'" for state, name in STATE_EVENTS.items())
    cursor.execute(
        f"""
        INSERT INTO {delivery} (district_id, endpoint_id, event_type, occurred_at, account_id, sis_code, kind,
                                state, reason, previous_state, status, attempts, next_attempt_at, last_error)
        SELECT %s, e.id, ev.event_type, %s, ev.account_id, ev.sis_code, ev.kind, ev.state, ev.reason,
               ev.previous_state, '{DeliveryStatus.PENDING}', 0, %s, ''
        FROM (
            SELECT sel.account_id,
                   CASE WHEN a.id IS NULL THEN '{ACCOUNT_DELETED}'
                        WHEN m.state IS NULL OR m.state <> a.state THEN CASE a.state {naming} END
                        ELSE '{ACCOUNT_CHANGED}' END AS event_type,
                   COALESCE(p.sis_code, m.sis_code) AS sis_code, COALESCE(p.kind, m.kind) AS kind,
                   COALESCE(a.state, '') AS state, COALESCE(a.reason, '') AS reason,
                   COALESCE(m.state, '') AS previous_state
            FROM ({selection}) sel
            LEFT JOIN {account} a ON a.id = sel.account_id AND a.district_id = %s
            LEFT JOIN {person} p ON p.id = a.person_id AND p.district_id = %s
            LEFT JOIN {mark} m ON m.account_id = sel.account_id AND m.district_id = %s
            WHERE a.id IS NOT NULL OR m.account_id IS NOT NULL
        ) ev
        JOIN {endpoint} e ON e.district_id = %s AND e.enabled = {sql.sql_true()} AND {subscribed("e")}
        """,
        [district_id, now, now, *params, district_id, district_id, district_id, district_id],
    )
    remember_states(cursor, district_id, selection, params)


def remember_states(cursor: Any, district_id: int, selection: str, params: Sequence[Any]) -> None:
    """Store the selected accounts' states as announced; forget the accounts that no longer exist."""
    account, person, mark = sql.table(Account), sql.table(Person), sql.table(AccountMark)
    cursor.execute(
        f"""
        INSERT INTO {mark} (district_id, account_id, state, sis_code, kind)
        SELECT %s, a.id, a.state, p.sis_code, p.kind
        FROM ({selection}) sel
        JOIN {account} a ON a.id = sel.account_id AND a.district_id = %s
        JOIN {person} p ON p.id = a.person_id AND p.district_id = %s
        WHERE 1 = 1
        ON CONFLICT (district_id, account_id) DO UPDATE SET
            state = excluded.state, sis_code = excluded.sis_code, kind = excluded.kind
        """,
        [district_id, *params, district_id, district_id],
    )
    cursor.execute(
        f"""
        DELETE FROM {mark} WHERE district_id = %s AND account_id IN ({selection})
          AND NOT EXISTS (SELECT 1 FROM {account} a WHERE a.id = {mark}.account_id AND a.district_id = %s)
        """,
        [district_id, *params, district_id],
    )


def remember_all_states(district_id: int) -> None:
    """A district's first endpoint starts from today's states, so existing accounts' next changes are named
    correctly (instead of all looking new)."""
    account = sql.table(Account)
    with connection.cursor() as cursor:
        remember_states(
            cursor,
            district_id,
            f"SELECT id AS account_id FROM {account} WHERE district_id = %s",
            [district_id],
        )


def sync_finished(run: SyncRun) -> None:
    """Queue `sync.finished` for the run's district's subscribed endpoints (called once per finished run)."""
    from schoolgate.integrations.outbox import kick_after_commit  # outbox imports this module

    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(district_id=run.district_id, enabled=True)
        if "*" in e.event_list or SYNC_FINISHED in e.event_list
    ]
    if not endpoints:
        return
    now = timezone.now()
    data = {
        "run": run.pk,
        "status": run.status,
        "format": run.format,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "counts": run.counts,
        "errors": len(run.errors or []),
        "warnings": len(run.warnings or []),
    }
    with transaction.atomic():
        WebhookDelivery.objects.bulk_create(
            WebhookDelivery(
                district_id=run.district_id,
                endpoint=endpoint,
                event_type=SYNC_FINISHED,
                occurred_at=now,
                data=data,
                next_attempt_at=now,
            )
            for endpoint in endpoints
        )
        kick_after_commit()
