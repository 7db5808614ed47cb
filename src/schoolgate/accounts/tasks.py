"""The worker's account tasks: overrides whose end date has come.

An override set with an end date asks for a run at that date (`overrides.schedule_expiry`); each run hands
the expired ones back to the rules and asks for a run at the next end date, so one waiting run covers them
all, and one missed (the worker was down) is caught up by the next run or the next sync.
"""

from __future__ import annotations

from django_tasks import task

from schoolgate.accounts import overrides


@task(queue_name="default")
def expire_overrides() -> int:
    expired = overrides.expire_due()
    following = overrides.next_expiry()
    if following is not None:
        overrides.schedule_expiry(following)
    return expired
