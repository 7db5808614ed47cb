"""Deciding a held sync run: the one door for Discard, used by the console, the API and the CLI alike.

Confirming is a new run of the same files with `confirm=True` (see `engine.run_sync`); discarding only closes
the held run, with its audit event, in one transaction. A held run whose district has applied newer files
since cannot be confirmed: its files are older than what the district now holds, and applying them would
quietly undo the newer run (`check_can_confirm`, asked at the door and again by the engine under the lock).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from schoolgate.core import audit
from schoolgate.sync.models import SyncRun, SyncStatus


class NotHeld(ValueError):
    """Only a held run can be confirmed or discarded."""


class Superseded(ValueError):
    """Newer files were applied after the run was held: confirming it would put older data back."""


def check_can_confirm(run: SyncRun) -> None:
    """Raise NotHeld or Superseded unless confirming `run` would apply the district's newest files."""
    if run.status != SyncStatus.HELD:
        raise NotHeld(f"run {run.pk} is {run.get_status_display().lower()}, not held")
    newer = (
        SyncRun.objects.filter(district_id=run.district_id, status=SyncStatus.APPLIED, pk__gt=run.pk)
        .order_by("-pk")
        .first()
    )
    if newer is not None:
        raise Superseded(
            f"run {newer.pk} applied newer files after run {run.pk} was held, so confirming run {run.pk} "
            f"would put its older data back. Discard run {run.pk}; if its changes are still wanted, they "
            "will be in the next export: upload that."
        )


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
