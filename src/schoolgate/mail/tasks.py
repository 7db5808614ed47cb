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

from django.utils import timezone
from django_tasks import task

from schoolgate.core.background import queue_once
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
    queue_once(deliver_outbox, run_after)
