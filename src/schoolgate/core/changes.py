"""Telling integrations which accounts changed, inside the transaction that changed them.

    changes.subscribe(my_handler)                       # at app start (AppConfig.ready)
    changes.accounts_changed(district_id, "SELECT account_id FROM sg_move")   # by the domain, in-transaction
    changes.sync_run_finished(run)                      # by the sync engine, once per finished run

Every lifecycle transition, account change and sync calls `accounts_changed` with SQL that selects the
`account_id` of each account it touched (set-based: a million moved accounts are one statement, not a list).
Subscribers — the SCIM push outbox, webhooks, the OpenID Connect provider — run in the same transaction, so
what they record (an outbox row, a revoked token) commits or rolls back with the change itself: nothing is
lost between a change and its delivery, and nothing is delivered for a change that did not happen.

Subscribers must be cheap when they have nothing to do (a district without integrations): the domain calls
this on every change. The selection may name accounts that no longer exist (a withdrawn account is deleted
in the same transaction); subscribers treat those as gone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Subscriber = Callable[[int, str, Sequence[Any]], None]
_subscribers: list[Subscriber] = []
_run_subscribers: list[Callable[[Any], None]] = []


def subscribe(subscriber: Subscriber) -> None:
    """Call `subscriber(district_id, account_sql, params)` for every change (once per subscriber)."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)


def accounts_changed(district_id: int, account_sql: str, params: Sequence[Any] = ()) -> None:
    """Announce, in the caller's transaction, that the accounts `account_sql` selects (column `account_id`)
    changed state or data."""
    for subscriber in _subscribers:
        subscriber(district_id, account_sql, params)


def account_changed(district_id: int, account_id: int) -> None:
    """One account changed (a convenience over `accounts_changed`)."""
    accounts_changed(district_id, "SELECT %s AS account_id", [account_id])


def subscribe_sync_runs(subscriber: Callable[[Any], None]) -> None:
    """Call `subscriber(run)` when a sync run is finished and saved (applied, held, rejected or failed)."""
    if subscriber not in _run_subscribers:
        _run_subscribers.append(subscriber)


def sync_run_finished(run: Any) -> None:
    """Announce a finished sync run (webhooks send `sync.finished`); the sync engine calls this."""
    for subscriber in _run_subscribers:
        subscriber(run)
