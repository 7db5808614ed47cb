"""The worker's sync task, for large uploads from the console (small ones run in the request)."""

from __future__ import annotations

from django_tasks import task

from schoolgate.core.models import District
from schoolgate.sync.engine import run_sync


@task(queue_name="default")
def run_sync_task(
    district_id: int, path: str, actor: str, confirm: bool = False, confirming: int | None = None
) -> int | None:
    district = District.objects.get(pk=district_id)
    return run_sync(district, path, confirm=confirm, actor=actor, confirming=confirming).run
