"""Leasing due outbox rows to one worker, shared by SCIM pushes (push.py) and webhook deliveries (webhooks.py).

Both outboxes have rows with a `status`, a `next_attempt_at` and a foreign key to an owner (a SCIM target, a
webhook endpoint) that can be switched off with `enabled`. A worker claims a batch in one short transaction
(`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, so two workers never take the same row; SQLite serialises
writers) and leases it by moving `next_attempt_at` a lease ahead; it then talks HTTP without holding a
transaction. A worker that dies leaves its rows to be taken again when the lease ends.
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
    owner: str,
    *,
    pending: str,
    limit: int,
    where: dict[str, Any] | None = None,
    order_by: Sequence[str] = ("next_attempt_at",),
) -> list[M]:
    """Lease up to `limit` rows of `model` whose status is `pending` and which are due, on enabled owners.

    `owner` names the foreign key to the owning model (which has an `enabled` column); `where` adds equality
    conditions on the row's own columns (e.g. {"priority": 0}); `order_by` names the row's columns the batch
    is taken in. The claimed rows come back ordered by id, their owner loaded with them.
    """
    field = model._meta.get_field(owner)
    quote = connection.ops.quote_name
    rows, owners = sql.table(model), sql.table(field.related_model)
    now = timezone.now()
    where = where or {}
    # The status is a constant written into the statement (not a parameter), so the statement matches the
    # partial due-row indexes' `status = 'pending'` even under server-side parameter binding.
    assert pending.isidentifier(), pending
    conditions = "".join(f" AND r.{quote(column)} = %s" for column in where)
    order = ", ".join(f"r.{quote(column)}" for column in order_by)
    lock = "FOR UPDATE OF r SKIP LOCKED" if sql.is_postgres() else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT r.id FROM {rows} r
                JOIN {owners} o ON o.id = r.{quote(field.column)} AND o.enabled = {sql.sql_true()}
                WHERE r.status = '{pending}'{conditions} AND r.next_attempt_at <= %s
                ORDER BY {order} LIMIT %s {lock}""",
            [*where.values(), sql.db_datetime(now), limit],
        )
        ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return []
        model._default_manager.filter(id__in=ids).update(next_attempt_at=now + LEASE)
        return list(model._default_manager.filter(id__in=ids).select_related(owner).order_by("id"))


def next_due_at(model: type[Model], owner: str, *, pending: str) -> datetime | None:
    """When the earliest `pending` row of `model` on an enabled owner is due (None if none waits)."""
    return (
        model._default_manager.filter(status=pending, **{f"{owner}__enabled": True})
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
