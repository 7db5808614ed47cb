"""Running jobs: items in committed batches, progress, cancel, resume, then a report and a notification.

A job kind registers a handler: `process(job, items)` does the work for a batch of items and sets each item's
status, inside the batch's transaction — so an item is either done (with its status saved) or not started,
whatever happens to the process. `run_job` picks up the first items still pending, which makes a job killed
mid-run resumable and a re-run harmless. The worker runs jobs as django-tasks tasks; tests and the CLI's
`--wait` call `run_job` directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from schoolgate.core.models import District
from schoolgate.jobs.models import ItemStatus, Job, JobItem, JobStatus, Notification


@dataclass(frozen=True)
class JobKind:
    process: Callable[[Job, list[JobItem]], None]
    finish: Callable[[Job], None]  # report, notification
    batch_size: int = 200


KINDS: dict[str, JobKind] = {}


def register(name: str, kind: JobKind) -> None:
    KINDS[name] = kind


class JobRejected(ValueError):
    """The job cannot be started, cancelled or resumed in its current state."""


def create_job(
    district: District,
    *,
    kind: str,
    title: str,
    person_ids: Sequence[int],
    params: dict[str, Any],
    actor: str,
    statuses: dict[int, tuple[str, str]] | None = None,
) -> Job:
    """A queued job with one item per person (in order); `statuses` pre-settles items (e.g. "exists")."""
    if kind not in KINDS:
        raise JobRejected(f"unknown job kind {kind!r}")
    statuses = statuses or {}
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.create(
            district=district, kind=kind, title=title, params=params, created_by=actor, created_at=now,
            total=len(person_ids),
        )  # fmt: skip
        JobItem.objects.bulk_create(
            [
                JobItem(
                    job=job,
                    person_id=pid,
                    position=i,
                    status=statuses.get(pid, (ItemStatus.PENDING, ""))[0],
                    detail=statuses.get(pid, (ItemStatus.PENDING, ""))[1],
                    processed_at=now if pid in statuses else None,
                )
                for i, pid in enumerate(person_ids)
            ],
            batch_size=2000,
        )
        job.done = len(statuses)
        job.save(update_fields=["done"])
        transaction.on_commit(lambda: run_job_task.enqueue(job.pk))
    return job


@task(queue_name="default")
def run_job_task(job_id: int) -> None:
    """The worker's entry point."""
    run_job(job_id)


def run_job(job_id: int, *, on_batch: Callable[[Job], None] | None = None) -> Job:
    """Work through the job's pending items; see the module docstring."""
    job = Job.objects.get(pk=job_id)
    if job.status in (JobStatus.DONE, JobStatus.CANCELLED) and not job.cancel_requested:
        return job
    kind = KINDS[job.kind]
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, started_at=job.started_at or timezone.now(), heartbeat_at=timezone.now()
    )
    while True:
        job.refresh_from_db()
        if job.cancel_requested:
            Job.objects.filter(pk=job.pk).update(status=JobStatus.CANCELLED, finished_at=timezone.now())
            break
        with transaction.atomic():
            items = list(
                JobItem.objects.select_for_update()
                .filter(job=job, status=ItemStatus.PENDING)
                .order_by("position")[: kind.batch_size]
            )
            if not items:
                Job.objects.filter(pk=job.pk).update(status=JobStatus.DONE, finished_at=timezone.now())
                break
            kind.process(job, items)
            now = timezone.now()
            for item in items:
                item.processed_at = now
            JobItem.objects.bulk_update(items, ["status", "username", "detail", "handout", "processed_at"])
            failed = sum(item.status == ItemStatus.FAILED for item in items)
            Job.objects.filter(pk=job.pk).update(
                done=job.done + len(items), failed=job.failed + failed, heartbeat_at=now
            )
        if on_batch:
            on_batch(job)
    job.refresh_from_db()
    kind.finish(job)
    return job


def cancel_job(job: Job) -> Job:
    if job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
        raise JobRejected(f"job {job.pk} is {job.status}; only a queued or running job can be cancelled")
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    if job.status == JobStatus.QUEUED:
        Job.objects.filter(pk=job.pk).update(status=JobStatus.CANCELLED, finished_at=timezone.now())
    job.refresh_from_db()
    return job


def resume_job(job: Job) -> Job:
    """Continue a cancelled job, or one whose worker died (running with no heartbeat): pending items only."""
    if job.status == JobStatus.DONE:
        raise JobRejected(f"job {job.pk} is done; nothing to resume")
    Job.objects.filter(pk=job.pk).update(cancel_requested=False, status=JobStatus.QUEUED, finished_at=None)
    transaction.on_commit(lambda: run_job_task.enqueue(job.pk))
    job.refresh_from_db()
    return job


def notify(job: Job, title: str, body: str, link: str) -> Notification:
    return Notification.objects.create(
        district=job.district, recipient=job.created_by, title=title, body=body, link=link, job=job,
        created_at=timezone.now(),
    )  # fmt: skip
