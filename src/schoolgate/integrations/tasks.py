"""The worker's task for integrations (queue "default", run by `schoolgate db_worker`).

`run_integrations` works in this order, again and again until nothing is due or its time is up:

    1. SCIM revocations, small batches, until none is due        (access removed reaches downstream first)
    2. one batch of webhook deliveries
    3. one batch of SCIM provisioning/updates                    then back to 1

so a revocation committed while a large provisioning backlog drains waits for at most one small batch.
When time is up with work left, or retries wait, the task queues itself again for then.

`schedule_run` queues it unless a run due by then is already waiting (each committed change kicks it).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.utils import timezone
from django_tasks import task

from schoolgate.core.background import queue_once
from schoolgate.integrations import push, webhooks
from schoolgate.integrations.models import PushPriority

logger = logging.getLogger(__name__)

QUEUE = "default"  # settings.TASKS names the queues; the worker serves them all
REVOKE_BATCH = 20
UPDATE_BATCH = 25
WEBHOOK_BATCH = 20
TIME_BUDGET_SECONDS = 50.0  # then hand the worker back (mail and jobs share it) and continue in a new run
PAUSE_WHEN_DOWN = timedelta(seconds=30)


def drain(time_budget: float = TIME_BUDGET_SECONDS) -> dict[str, int]:
    """Push and deliver everything due, revocations first; totals of what happened."""
    totals = push.PushReport()
    delivered = {"delivered": 0, "retrying": 0, "failed": 0}
    deadline = time.monotonic() + time_budget
    while time.monotonic() < deadline:
        revoked = push.push_due(PushPriority.REVOKE, REVOKE_BATCH)
        totals += revoked
        if revoked.claimed:
            continue  # revocations until none is due
        sent = webhooks.deliver_due(WEBHOOK_BATCH)
        for key, value in sent.as_dict().items():
            delivered[key] += value
        updated = push.push_due(PushPriority.UPDATE, UPDATE_BATCH)
        totals += updated
        if not (sent.claimed or updated.claimed):
            break
    return {**totals.as_dict(), **{f"webhooks_{k}": v for k, v in delivered.items()}}


@task(queue_name=QUEUE)
def run_integrations() -> dict[str, int]:
    """Push and deliver everything due; queue the next run for whatever still waits."""
    report = drain()
    following = [at for at in (push.next_due_at(), webhooks.next_due_at()) if at is not None]
    if following:
        now = timezone.now()
        earliest = min(following)
        # Still due now means the time budget ran out: continue at once in a fresh run.
        schedule_run(earliest if earliest > now else None)
    return report


def schedule_run(run_after: datetime | None = None) -> None:
    """Queue `run_integrations` now (or at `run_after`) unless a run due by then is already queued."""
    queue_once(run_integrations, run_after)
