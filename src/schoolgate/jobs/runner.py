"""Running jobs: items in committed batches, progress, cancel, resume, then a report and a notification.

A job kind registers a handler: `process(job, items)` does the work for a batch of items and sets each item's
status, inside the batch's transaction — so an item is either done (with its status saved) or not started,
whatever happens to the process. `run_job` picks up the first items still pending, which makes a job killed
mid-run resumable and a re-run harmless. The worker runs jobs as django-tasks tasks; tests and the CLI's
`--wait` call `run_job` directly.

A job ends done, cancelled (asked to stop; it stops after its current batch) or failed (a batch raised: that
batch is rolled back, the error is recorded and logged). Each ending is seen only together with its report
(`_end`): the report files are written first, then their paths, the final status, the notification and the
audit event are committed in one short transaction. The console's job page stops polling at the first
response that says "done", so a status written before the report meant the links never appeared. A job
killed while ending is still running, its items done and its handouts kept; resuming it writes the same
report again and ends it — once, with one notification.

Generated passwords (`JobItem.handout`) live until the job is done: a cancelled or failed job may be
resumed, and its final report must list every password the job generated, those of the batches before the
cancel too. They are erased in the transaction that records the final report, and only then. Each ending
has its own report files (`reports.report_paths`), so the final report never replaces a cancelled one an
admin may have handed passwords out from. Keeping them in the database until then is the lesser risk: the
database holds the accounts' hashes and personal data already, while a password lost is an account nobody
can log in to.

One runner a job. `run_job` takes only a queued job, and a runner keeps its heartbeat (`heartbeat_at`) as
its claim: every write it makes to the job is conditional on the heartbeat it wrote last. `resume_job`
queues again only a cancelled or failed job, or a running one silent for HEARTBEAT_TIMEOUT (its worker
died); a runner that was merely stalled that long finds its claim gone and stops without writing.

On SQLite a batch holds the database's only write lock. Between batches the runner pauses long enough for a
waiting writer (a cancel, a login, a sync) to take it, and it sizes batches to take about
SQLITE_BATCH_SECONDS: committing and at once starting the next batch starved other writers until their lock
timeout ("database is locked" after 30 s).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import OperationalError, connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_tasks import task

from schoolgate.core import audit
from schoolgate.core.models import District
from schoolgate.jobs.models import ItemStatus, Job, JobItem, JobStatus, Notification
from schoolgate.jobs.reports import write_reports

logger = logging.getLogger(__name__)

# A runner writes its heartbeat when it claims a job, after each batch and before it writes the report; one
# silent for longer is taken for dead, and its job may be resumed. Generous, since a live runner must never
# be taken for dead: a batch of 200 generated passwords hashes for about 10 s, a large job's PDF renders for
# about a minute, and a waiting SQLite writer may wait 30 s for the lock.
HEARTBEAT_TIMEOUT = timedelta(minutes=10)

# SQLite: about how long one batch may hold the write lock, and the pause after it. SQLite's busy handler
# retries a waiting writer at most 100 ms apart, so a longer pause lets every waiter in.
SQLITE_BATCH_SECONDS = 2.0
SQLITE_PAUSE_SECONDS = 0.15


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


class JobBusy(JobRejected):
    """The database stayed locked past its timeout (on SQLite, by another long write); nothing was changed."""


class _ClaimLost(Exception):
    """The job is no longer this runner's: it was resumed while the runner was silent past the timeout."""


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
    """Work through the job's pending items and end it; see the module docstring. Never raises for an error
    in the job's own work: that ends the job failed, with the error recorded."""
    beat = timezone.now()
    # Claim the job: only a queued one is taken, by one runner. The CLI's --wait and the console's small
    # selections run a job in place while the worker was queued the same job too; without the claim both
    # worked through it and wrote its report at once. A job a killed runner left running is queued again by
    # resume_job; one cancelled before it started stays cancelled.
    claimed = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=Coalesce(F("started_at"), Value(beat)), heartbeat_at=beat
    )
    job = Job.objects.get(pk=job_id)
    if not claimed:
        return job
    kind = KINDS[job.kind]
    sqlite = connection.vendor == "sqlite"
    size = kind.batch_size
    ending, error = JobStatus.DONE, ""
    while True:
        # Read outside any transaction: on SQLite a read waits for no writer, so the cancel flag is seen
        # at once.
        job.refresh_from_db()
        if job.status != JobStatus.RUNNING or job.heartbeat_at != beat:
            return _lost(job)
        if job.cancel_requested:
            # A cancel that came after the last batch stops nothing: the job is done (and its passwords go).
            if job.items.filter(status=ItemStatus.PENDING).exists():
                ending = JobStatus.CANCELLED
            break
        started = time.monotonic()
        asked = size
        try:
            with transaction.atomic():
                items = list(
                    JobItem.objects.select_for_update()
                    .filter(job=job, status=ItemStatus.PENDING)
                    .order_by("position")[:asked]
                )
                if not items:
                    break
                kind.process(job, items)
                now = timezone.now()
                for item in items:
                    item.processed_at = now
                JobItem.objects.bulk_update(
                    items, ["status", "username", "detail", "handout", "processed_at"]
                )
                failed = sum(item.status == ItemStatus.FAILED for item in items)
                if not Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, heartbeat_at=beat).update(
                    done=F("done") + len(items), failed=F("failed") + failed, heartbeat_at=now
                ):
                    raise _ClaimLost  # undoes the batch: the runner that holds the job now does it
        except _ClaimLost:
            return _lost(job)
        except Exception as exc:
            # The batch's transaction is rolled back: its items are pending again, none half-done. The job
            # ends failed with what the committed batches did, and can be resumed once the cause is fixed.
            logger.exception("job %s (%s) failed in a batch; the batch was rolled back", job.pk, job.kind)
            ending, error = JobStatus.FAILED, _error_text(exc)
            break
        beat = now
        if on_batch:
            on_batch(job)
        if len(items) < asked:
            break  # that was the last of them
        if sqlite:
            took = time.monotonic() - started
            size = max(1, min(kind.batch_size, int(len(items) * SQLITE_BATCH_SECONDS / max(took, 0.001))))
            time.sleep(SQLITE_PAUSE_SECONDS)
    _end(job, kind, ending, beat=beat, error=error)
    job.refresh_from_db()
    return job


def _lost(job: Job) -> Job:
    logger.warning("job %s was resumed elsewhere while this runner was silent; this runner stops", job.pk)
    job.refresh_from_db()
    return job


def _error_text(exc: BaseException) -> str:
    """The error as an admin reads it on the job: its type and message (the traceback goes to the log)."""
    message = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text if len(text) <= 1000 else text[:999] + "…"


def _end(job: Job, kind: JobKind, status: str, *, beat: datetime, error: str = "") -> None:
    """Write the report files, then record them with the final status, the notification, the audit event
    and (when the job is done) the erasure of generated passwords, all or nothing.

    The files are written outside the transaction: on SQLite a transaction holds the database's write lock,
    and the PDF of a large job takes a minute to render. A crash before the commit leaves the job running with
    nothing of its ending recorded and its handouts kept, so the report written on resume is the same one,
    under the same name. A report that cannot be written ends the job failed, saying so, with no new report.
    """
    now = timezone.now()
    # Heard from just before the report, which may take a minute, so that the runner is not taken for dead.
    if not Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, heartbeat_at=beat).update(
        heartbeat_at=now
    ):
        _lost(job)
        return
    beat = now
    job.refresh_from_db()
    job.status, job.error = status, error  # the report states how the job ended before the row says so
    final = status == JobStatus.DONE
    # Endings are numbered by those recorded, each with its one notification: see reports.write_reports.
    ending = job.notifications.count() + 1
    pdf = csv = None
    try:
        report = kind.report(job)
        notes = []
        if error:
            notes.append(f"Stopped by an error: {error}. The batch it was working on was undone; resume the "
                         "job once the cause is fixed.")  # fmt: skip
        if not final and job.items.exclude(handout="").exists():
            notes.append("Generated passwords are kept until the job is done: its final report lists them "
                         "all, these too.")  # fmt: skip
        summary = [*report.summary[:1], *notes, *report.summary[1:]]
        pdf, csv = write_reports(job, report.headers, report.rows, summary, ending)
        title, body = report.title, report.body
    except Exception as exc:
        logger.exception("job %s (%s): its report could not be written", job.pk, job.kind)
        reason = f"the report could not be written: {_error_text(exc)}"
        status, final = JobStatus.FAILED, False
        error = f"{error}; {reason}" if error else reason
        title, body = job.title, ""
    if status == JobStatus.FAILED:
        title, body = f"{job.title}: stopped by an error", f"{error}\n{body}".strip()
    with transaction.atomic():
        recorded = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, heartbeat_at=beat).update(
            status=status, finished_at=timezone.now(), error=error,
            **({"report_pdf": str(pdf), "report_csv": str(csv)} if pdf else {}),
        )  # fmt: skip
        if not recorded:
            _lost(job)
            return
        if final:
            job.items.exclude(handout="").update(handout="")  # generated passwords live on only in the report
        after = {"status": status, "done": job.done, "failed": job.failed}
        if error:
            after["error"] = error
        audit.record(
            job.district, audit.SYSTEM_WORKER, f"job.{status}", target_type="job", target_id=job.pk,
            target_label=job.title[:255], before={"status": JobStatus.RUNNING}, after=after, run_id=job.pk,
        )  # fmt: skip
        notify(job, title[:200], body, str(pdf) if pdf else "")


def _lock_timeout(exc: OperationalError) -> bool:
    """SQLite's "database is locked" after its busy timeout, or PostgreSQL's lock_not_available."""
    cause = exc.__cause__
    return (
        "database is locked" in str(exc)
        or getattr(cause, "sqlstate", getattr(cause, "pgcode", "")) == "55P03"
    )


def _busy(job: Job, doing: str) -> JobBusy:
    return JobBusy(
        f"job {job.pk} could not be {doing}: the database stayed busy with another write (on SQLite, a sync "
        "or a long job batch holds its only write lock); nothing was changed — try again in a moment"
    )


def cancel_job(job: Job, *, actor: str) -> Job:
    """Cancel a queued job at once, or ask a running one to stop after its current batch."""
    try:
        with transaction.atomic():
            current = Job.objects.select_for_update().get(pk=job.pk)
            if current.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
                raise JobRejected(
                    f"job {job.pk} is {current.status}; only a queued or running job can be cancelled"
                )
            if current.status == JobStatus.QUEUED:
                Job.objects.filter(pk=job.pk).update(
                    cancel_requested=True, status=JobStatus.CANCELLED, finished_at=timezone.now()
                )
                action, after = "job.cancelled", {"status": JobStatus.CANCELLED}
            else:
                Job.objects.filter(pk=job.pk).update(cancel_requested=True)
                action, after = "job.cancel_requested", {"status": current.status, "cancel_requested": True}
            audit.record(
                current.district, actor, action, target_type="job", target_id=job.pk,
                target_label=current.title[:255], run_id=job.pk,
                before={"status": current.status, "cancel_requested": current.cancel_requested}, after=after,
            )  # fmt: skip
    except OperationalError as exc:
        if not _lock_timeout(exc):
            raise
        raise _busy(job, "cancelled") from exc
    job.refresh_from_db()
    return job


def _silence(job: Job, now: datetime) -> timedelta | None:
    """How long the job's runner has not been heard from (None: never)."""
    return now - job.heartbeat_at if job.heartbeat_at else None


def _as_text(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"


def _check_resumable(job: Job, now: datetime) -> None:
    """Raise JobRejected, naming the job's status, unless it may be queued again."""
    if job.status in (JobStatus.CANCELLED, JobStatus.FAILED):
        return
    if job.status == JobStatus.RUNNING:
        silence = _silence(job, now)
        if silence is None or silence > HEARTBEAT_TIMEOUT:
            return  # its worker died: nothing else will finish it
        stopping = " and stops after its current batch (cancel requested)" if job.cancel_requested else ""
        raise JobRejected(
            f"job {job.pk} is running{stopping}; its worker was last heard from {_as_text(silence)} ago, so "
            "it cannot be resumed: a second worker would run it alongside the first. Resume a job once it is "
            "cancelled or failed, or, if its worker died, once it has been silent for "
            f"{_as_text(HEARTBEAT_TIMEOUT)}"
        )
    if job.status == JobStatus.QUEUED:
        raise JobRejected(f"job {job.pk} is queued: the worker runs it next; nothing to resume")
    raise JobRejected(f"job {job.pk} is {job.status}; nothing to resume")


def resume_job(job: Job, *, actor: str) -> Job:
    """Queue again a cancelled or failed job, or a running one whose worker died (silent for
    HEARTBEAT_TIMEOUT): its pending items only. A running job with a live worker is refused — resuming it
    set a second runner to work on it."""
    try:
        with transaction.atomic():
            # The row as it is now, locked (on SQLite the transaction holds the write lock): two resumes, or a
            # resume and the runner's next heartbeat, cannot both go by the same old state.
            current = Job.objects.select_for_update().get(pk=job.pk)
            _check_resumable(current, timezone.now())
            Job.objects.filter(pk=job.pk).update(
                cancel_requested=False, status=JobStatus.QUEUED, finished_at=None, error=""
            )
            audit.record(
                current.district, actor, "job.resumed", target_type="job", target_id=job.pk,
                target_label=current.title[:255], run_id=job.pk,
                before={"status": current.status, **({"error": current.error} if current.error else {})},
                after={"status": JobStatus.QUEUED},
            )  # fmt: skip
            transaction.on_commit(lambda: run_job_task.enqueue(job.pk))
    except OperationalError as exc:
        if not _lock_timeout(exc):
            raise
        raise _busy(job, "resumed") from exc
    job.refresh_from_db()
    return job


def notify(job: Job, title: str, body: str, link: str) -> Notification:
    return Notification.objects.create(
        district=job.district, recipient=job.created_by, title=title, body=body, link=link, job=job,
        created_at=timezone.now(),
    )  # fmt: skip
