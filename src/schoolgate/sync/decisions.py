"""Deciding a held sync run: the one door for Discard, used by the console, the API and the CLI alike.

Confirming is a new run of the same files with `confirm=True` (see `engine.run_sync`); discarding only closes
the held run, with its audit event, in one transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from schoolgate.core import audit
from schoolgate.sync.models import SyncRun, SyncStatus


class NotHeld(ValueError):
    """Only a held run can be confirmed or discarded."""


def discard_held_run(run: SyncRun, *, actor: str) -> SyncRun:
    """Drop a held run: nothing of it is applied."""
    with transaction.atomic():
        locked = SyncRun.objects.select_for_update().get(pk=run.pk)
        if locked.status != SyncStatus.HELD:
            raise NotHeld(f"run {run.pk} is {locked.get_status_display().lower()}, not held")
        locked.status, locked.finished_at = SyncStatus.DISCARDED, timezone.now()
        locked.save(update_fields=["status", "finished_at"])
        audit.record(locked.district, actor, "sync.discarded", target_type="sync_run", target_id=locked.pk,
                     target_label=f"run {locked.pk}", before={"status": SyncStatus.HELD},
                     after={"status": SyncStatus.DISCARDED})  # fmt: skip
    return locked
