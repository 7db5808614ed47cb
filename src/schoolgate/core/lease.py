"""Leasing due outbox rows to one worker, shared by SCIM pushes and webhook deliveries (integrations) and the
mail outbox (mail/sender.py).

Each outbox has rows with a `status` and a `next_attempt_at`; the integrations' rows also have a foreign key
to an owner (a SCIM target, a webhook endpoint) that can be switched off with `enabled`. A worker claims a
batch in one short transaction (`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, so two workers never take
the same row; SQLite serialises writers) and leases it by moving `next_attempt_at` a lease ahead; it then
talks HTTP or SMTP without holding a transaction. A worker that dies leaves its rows to be taken again when
the lease ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from schoolgate.core import sql

M = TypeVar("M", bound=Model)

LEASE = timedelta(minutes=5)


def claim_due(
    model: type[M],
    owner: str | None = None,
    *,
    pending: str | Sequence[str],
    limit: int,
    where: dict[str, Any] | None = None,
    order_by: Sequence[str] = ("next_attempt_at",),
    related: Sequence[str] = (),
    lease: timedelta = LEASE,
) -> list[M]:
    """Lease up to `limit` due rows of `model` whose status is `pending` (one status or several), for `lease`.

    `owner` names the foreign key to the owning model (which has an `enabled` column): only rows on enabled
    owners are taken, and the owner is loaded with them; None takes rows without looking at an owner.
    `where` adds equality conditions on the row's own columns (e.g. {"priority": 0}); `order_by` names the
    row's columns the batch is taken in; `related` names further foreign keys to load with the rows. The
    claimed rows come back ordered by id.
    """
    statuses = _statuses(pending)
    quote = connection.ops.quote_name
    rows = sql.table(model)
    now = timezone.now()
    where = where or {}
    # The statuses are constants written into the statement (not parameters), so the statement matches the
    # partial due-row indexes' `status = 'pending'` even under server-side parameter binding.
    for status in statuses:
        assert status.isidentifier(), status
    if len(statuses) == 1:
        status_test = f"r.status = '{statuses[0]}'"
    else:
        status_test = "r.status IN ({})".format(", ".join(f"'{status}'" for status in statuses))
    join = ""
    if owner is not None:
        field = model._meta.get_field(owner)
        owners = sql.table(field.related_model)
        join = f" JOIN {owners} o ON o.id = r.{quote(field.column)} AND o.enabled = {sql.sql_true()}"
    conditions = "".join(f" AND r.{quote(column)} = %s" for column in where)
    order = ", ".join(f"r.{quote(column)}" for column in order_by)
    lock = "FOR UPDATE OF r SKIP LOCKED" if sql.is_postgres() else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT r.id FROM {rows} r{join}
                WHERE {status_test}{conditions} AND r.next_attempt_at <= %s
                ORDER BY {order} LIMIT %s {lock}""",
            [*where.values(), sql.db_datetime(now), limit],
        )
        ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return []
        model._default_manager.filter(id__in=ids).update(next_attempt_at=now + lease)
        claimed = model._default_manager.filter(id__in=ids).order_by("id")
        loaded = [owner, *related] if owner is not None else list(related)
        if loaded:  # (select_related() with no names would follow every foreign key)
            claimed = claimed.select_related(*loaded)
        return list(claimed)


def next_due_at(
    model: type[Model], owner: str | None = None, *, pending: str | Sequence[str]
) -> datetime | None:
    """When the earliest `pending` row of `model` (on an enabled owner, if `owner`) is due (None if none waits)."""
    statuses = _statuses(pending)
    status = {"status": statuses[0]} if len(statuses) == 1 else {"status__in": statuses}
    enabled = {f"{owner}__enabled": True} if owner is not None else {}
    return (
        model._default_manager.filter(**status, **enabled)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )


def _statuses(pending: str | Sequence[str]) -> list[str]:
    """One status or several, as plain strings (a TextChoices member is a str)."""
    return [str(pending)] if isinstance(pending, str) else [str(status) for status in pending]
