"""Queueing background tasks without flooding the queue: the one mechanism the mail outbox and the
integrations outbox share.

    after_commit_once(_kick)              # in a transaction that wrote outbox rows: one kick per transaction
    queue_once(deliver_outbox, run_after) # in the kick: skipped when a run due by then already waits

Each committed transaction with work asks for a run; without these a busy hour would leave thousands of runs
in the queue, each re-queueing itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.backend import DatabaseBackend


def after_commit_once(kick: Callable[[], None]) -> None:
    """Call `kick` once after this transaction commits, however often it is asked for within it."""
    connection = transaction.get_connection()
    # A callback registered in a savepoint that was rolled back has been dropped from this list by Django, so
    # the next request registers it again.
    if connection.in_atomic_block and any(func is kick for _, func, _ in connection.run_on_commit):
        return
    # robust: the change is committed whatever happens here; if the task cannot be queued, the work waits
    # for the next kick or the command that runs it by hand.
    transaction.on_commit(kick, robust=True)


def queue_once(task: Any, run_after: datetime | None = None) -> None:
    """Queue `task` now (or at `run_after`) unless a run of it due by then is already queued."""
    now = timezone.now()
    if run_after is not None and run_after <= now:
        run_after = None
    backend = task.get_backend()
    if run_after is not None and not backend.supports_defer:
        return  # this backend cannot wait; the next kick (or the command) will do it
    if _already_queued(task, backend, run_after or now):
        return
    (task.using(run_after=run_after) if run_after else task).enqueue()


def _already_queued(task: Any, backend: object, by: datetime) -> bool:
    # Only the database backend can be asked what it holds; with any other, queue unconditionally.
    if not isinstance(backend, DatabaseBackend):
        return False
    from django_tasks_db.models import DBTaskResult, get_date_max  # models: only once apps are loaded

    return (
        DBTaskResult.objects.filter(
            status=TaskResultStatus.READY, task_path=task.module_path, backend_name=backend.alias
        )
        .filter(Q(run_after__lte=by) | Q(run_after=get_date_max()))
        .exists()
    )
