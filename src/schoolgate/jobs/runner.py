"""Running jobs: items in committed batches, progress, cancel, resume, then a report and a notification.

A job kind registers a handler: `process(job, items)` does the work for a batch of items and sets each item's
status, inside the batch's transaction — so an item is either done (with its status saved) or not started,
whatever happens to the process. `run_job` picks up the first items still pending, which makes a job killed
mid-run resumable and a re-run harmless. The worker runs jobs as django-tasks tasks; tests and the CLI's
`--wait` call `run_job` directly.

A job is seen done (or cancelled) only together with its report (`_end`): the report files are written first,
then their paths, the final status, the notification and the erasure of generated passwords are committed in
one short transaction. The console's job page stops polling at the first response that says "done", so a
status written before the report meant the links never appeared. A job killed while ending is still running,
its items done and (for generated passwords) its handouts kept; resuming it writes the same report again and
ends it — once, with one notification.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_tasks import task

from schoolgate.core.models import District
from schoolgate.jobs.models import ItemStatus, Job, JobItem, JobStatus, Notification
from schoolgate.jobs.reports import write_reports


@dataclass(frozen=True)
class Report:
    """What a job says when it ends: its report's rows, and the notification to its creator."""

    headers: list[str]
    rows: list[list[object]]
    summary: list[str]  # lines above the table; the first says how the job ended
    title: str  # the notification's
    body: str = ""


@dataclass(frozen=True)
class JobKind:
    process: Callable[[Job, list[JobItem]], None]
    report: Callable[[Job], Report]  # reads only: the runner writes and records the files
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
    now = timezone.now()
    # Claim the job: only a queued one is taken, by one runner. The CLI's --wait and the console's small
    # selections run a job in place while the worker was queued the same job too; without the claim both
    # worked through it and wrote its report at once. A job a killed runner left running is queued again by
    # resume_job; one cancelled before it started stays cancelled.
    claimed = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=Coalesce(F("started_at"), Value(now)), heartbeat_at=now
    )
    job = Job.objects.get(pk=job_id)
    if not claimed:
        return job
    kind = KINDS[job.kind]
    ending = JobStatus.DONE
    while True:
        job.refresh_from_db()
        if job.cancel_requested:
            ending = JobStatus.CANCELLED
            break
        with transaction.atomic():
            items = list(
                JobItem.objects.select_for_update()
                .filter(job=job, status=ItemStatus.PENDING)
                .order_by("position")[: kind.batch_size]
            )
            if not items:
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
    _end(job, kind, ending)
    job.refresh_from_db()
    return job


def _end(job: Job, kind: JobKind, status: str) -> None:
    """Write the report files, then record them with the final status, the notification and the erasure of
    generated passwords, all or nothing.

    The files are written outside the transaction: on SQLite a transaction holds the database's write lock,
    and the PDF of a large job takes a minute to render. A crash before the commit leaves the job running with
    nothing of its ending recorded and its handouts kept, so the report written on resume is the same one.
    """
    job.refresh_from_db()
    job.status = status  # the report states how the job ended ("Status: done.") before the row says so
    report = kind.report(job)
    pdf, csv = write_reports(job, report.headers, report.rows, report.summary)
    with transaction.atomic():
        Job.objects.filter(pk=job.pk).update(
            status=status, finished_at=timezone.now(), report_pdf=str(pdf), report_csv=str(csv)
        )
        job.items.exclude(handout="").update(handout="")  # generated passwords live on only in the report
        notify(job, report.title, report.body, str(pdf))


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
