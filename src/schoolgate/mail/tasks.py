"""The background task that delivers the outbox (queue "mail", run by `schoolgate db_worker`).

`deliver_outbox` sends everything due, then, while messages still wait (retries with a later
`next_attempt_at`, or a batch another worker holds), queues itself again for the earliest of those times.

`schedule_delivery` queues it, but not when a run that would start by then is already waiting: each
committed transaction with mail asks for a run, and without this a busy hour would leave thousands of runs
in the queue, each re-queueing itself.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.backend import DatabaseBackend

from schoolgate.mail.sender import drain, next_due_at

logger = logging.getLogger(__name__)

QUEUE = "mail"
PAUSE_WHEN_DOWN = timedelta(minutes=1)


@task(queue_name=QUEUE)
def deliver_outbox() -> dict[str, int]:
    """Deliver every due message; queue the next run for the earliest message still waiting."""
    report = drain()
    following = next_due_at()
    if following is not None:
        # Still due now means the drain stopped on purpose (the server answered nothing in a whole batch):
        # pause instead of coming straight back.
        now = timezone.now()
        schedule_delivery(following if following > now else now + PAUSE_WHEN_DOWN)
    return report.as_dict()


def schedule_delivery(run_after: datetime | None = None) -> None:
    """Queue `deliver_outbox` to run now (or at `run_after`) unless a run due by then is already queued."""
    now = timezone.now()
    if run_after is not None and run_after <= now:
        run_after = None
    backend = deliver_outbox.get_backend()
    if run_after is not None and not backend.supports_defer:
        return  # this backend cannot wait; `schoolgate mail deliver` (or the next message) will do it
    if _already_queued(backend, run_after or now):
        return
    (deliver_outbox.using(run_after=run_after) if run_after else deliver_outbox).enqueue()


def _already_queued(backend: object, by: datetime) -> bool:
    # Only the database backend can be asked what it holds; with any other, queue unconditionally.
    if not isinstance(backend, DatabaseBackend):
        return False
    from django_tasks_db.models import DBTaskResult, get_date_max  # models: only once apps are loaded

    return (
        DBTaskResult.objects.filter(
            status=TaskResultStatus.READY,
            task_path=deliver_outbox.module_path,
            backend_name=backend.alias,
        )
        .filter(Q(run_after__lte=by) | Q(run_after=get_date_max()))
        .exists()
    )
