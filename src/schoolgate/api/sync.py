"""Sync from the API: upload a SIS export (a .zip) to be read by the worker, follow the upload to its run,
read runs' reports, and confirm or discard a run held by the mass-revocation guard.

Uploads are queued for the worker (`schoolgate db_worker`) through `sync.tasks.run_sync_task`, as the console
does with large files: an API request never holds a connection open for a whole district's import. The upload
id (the queued task's) tells when the worker has produced the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django_tasks import TaskResult, TaskResultStatus
from django_tasks_db.models import DBTaskResult
from ninja import File, Query, Router, Status
from ninja.files import UploadedFile

from schoolgate.admins import roles
from schoolgate.api.auth import needs
from schoolgate.api.errors import ERROR_STATUSES, ApiError, ErrorOut
from schoolgate.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageInfo, decode, page
from schoolgate.api.schemas import SyncRunOut, SyncRunRow, SyncRunsPage, UploadOut
from schoolgate.sync.decisions import Superseded, check_can_confirm, discard_held_run
from schoolgate.sync.models import SyncRun, SyncStatus
from schoolgate.sync.tasks import run_sync_task
from schoolgate.sync.uploads import MAX_UPLOAD, store_upload

router = Router(tags=["sync"])
ANSWERS = {ERROR_STATUSES: ErrorOut}
ZIP_MAGIC = b"PK\x03\x04"
ZIP_FILE = File(..., description="the SIS export as one .zip")


def _upload(result: TaskResult) -> UploadOut:
    """A queued upload as the API shows it: the task's status, its run once done, the held run it confirms."""
    done = str(result.status) == "SUCCESSFUL"
    return UploadOut(id=str(result.id), status=str(result.status), run=result.return_value if done else None,
                     confirming=result.kwargs.get("confirming"))  # fmt: skip


def _queue(request: HttpRequest, path: Path, *, confirming: int | None = None) -> UploadOut:
    result = run_sync_task.enqueue(request.district.pk, str(path), request.actor, confirming=confirming)
    return _upload(result)


@router.post("/sync-runs", response={202: UploadOut, **ANSWERS}, **needs(roles.SYNC_RUN))
def upload(request: HttpRequest, file: UploadedFile = ZIP_FILE) -> Status[UploadOut]:
    """Queue a SIS export (OneRoster or SDS CSV files in one .zip) for a sync; 202 with the upload to follow."""
    if not (file.name or "").lower().endswith(".zip"):
        raise ApiError(400, "invalid_upload", f"file {file.name!r} is not a .zip: send the SIS export as one .zip",
                       {"field": "file", "name": file.name})  # fmt: skip
    if file.size > MAX_UPLOAD:
        raise ApiError(400, "invalid_upload", "file is larger than the 2 GB limit", {"field": "file"})
    head = file.read(4)
    file.seek(0)
    if head != ZIP_MAGIC:
        raise ApiError(400, "invalid_upload", f"file {file.name!r} is not a zip archive", {"field": "file"})
    return Status(202, _queue(request, store_upload(request.district, file)))


@router.get("/sync-uploads/{upload_id}", response={200: UploadOut, **ANSWERS}, **needs(roles.SYNC_VIEW))
def get_upload(request: HttpRequest, upload_id: str) -> UploadOut:
    """Where a queued upload is: waiting, running, or done with the id of the sync run it produced."""
    return _upload(run_sync_task.get_result(upload_id))  # TokenAuth checked it is this district's upload


def _run_row(run: SyncRun) -> dict[str, Any]:
    return {"id": run.pk, "status": run.status, "format": run.format, "actor": run.actor,
            "started_at": run.started_at, "finished_at": run.finished_at, "confirmed": run.confirmed,
            "counts": run.counts}  # fmt: skip


@router.get("/sync-runs", response={200: SyncRunsPage, **ANSWERS}, **needs(roles.SYNC_VIEW))
def list_runs(
    request: HttpRequest,
    status: SyncStatus | None = None,
    cursor: str | None = Query(None, max_length=2000),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> SyncRunsPage:
    """The district's sync runs, newest first."""
    runs = SyncRun.objects.filter(district=request.district).order_by("-pk")
    if status:
        runs = runs.filter(status=status)
    after = decode("sync-runs", cursor)
    if after:
        runs = runs.filter(pk__lt=int(after[0]))
    shown, following = page(list(runs[: limit + 1]), limit, "sync-runs", lambda r: [r.pk])
    return SyncRunsPage(items=[SyncRunRow(**_run_row(r)) for r in shown],
                        page=PageInfo(next=following, limit=limit))  # fmt: skip


def _run(request: HttpRequest, run_id: int, *, lock: bool = False) -> SyncRun:
    runs = SyncRun.objects.select_for_update() if lock else SyncRun.objects
    return runs.get(district=request.district, pk=run_id)  # TokenAuth checked it is the district's


@router.get("/sync-runs/{run_id}", response={200: SyncRunOut, **ANSWERS}, **needs(roles.SYNC_VIEW))
def get_run(request: HttpRequest, run_id: int) -> SyncRunOut:
    """One run's report: status, counts, errors by file/line/column, warnings, and a held run's diff."""
    run = _run(request, run_id)
    return SyncRunOut(**_run_row(run), tolerant=run.tolerant, errors=run.errors, warnings=run.warnings,
                      diff=run.diff, confirmed_by=run.confirmed_by_id, durations=run.durations)  # fmt: skip


def _held(request: HttpRequest, run_id: int, *, lock: bool = False) -> SyncRun:
    run = _run(request, run_id, lock=lock)
    if run.status != SyncStatus.HELD:
        raise ApiError(409, "not_held", f"run {run_id} is {run.status}: only a held run can be confirmed or "
                       "discarded", {"run": run_id, "status": run.status})  # fmt: skip
    return run


@router.post("/sync-runs/{run_id}/confirm", response={202: UploadOut, **ANSWERS}, **needs(roles.SYNC_RUN))
def confirm_run(request: HttpRequest, run_id: int) -> Status[UploadOut]:
    """Apply a held run's files after all (queued for the worker, as an upload is); 202 with the upload.
    Asked again while that confirmation waits or runs, 202 with the same upload (nothing more is queued).
    409 `superseded` when the district applied newer files since the run was held (the worker checks again)."""
    # The held run's row lock (as Discard takes it) orders two confirmations sent at once: the second waits,
    # then finds the first's task, instead of queuing a confirmation the worker would record as rejected.
    with transaction.atomic():
        run = _held(request, run_id, lock=True)
        queued = _queued_confirmation(run)
        if queued is not None:
            return Status(202, _upload(queued))
        if not Path(run.source).exists():
            raise ApiError(409, "files_gone", f"the files of run {run_id} are no longer on the server: upload "
                           "them again", {"run": run_id})  # fmt: skip
        try:
            check_can_confirm(run)
        except Superseded as exc:
            raise ApiError(409, "superseded", str(exc), {"run": run_id}) from None
        return Status(202, _queue(request, Path(run.source), confirming=run.pk))


def _queued_confirmation(run: SyncRun) -> TaskResult | None:
    """The confirmation of `run` waiting for the worker or running (from the API or the console), if any. One
    that failed left the run held: it may be confirmed again."""
    task = (
        DBTaskResult.objects.filter(
            task_path=run_sync_task.module_path, queue_name=run_sync_task.queue_name,
            status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING],
            args_kwargs__kwargs__confirming=run.pk,
        )
        .order_by("enqueued_at")
        .first()
    )  # fmt: skip
    return task.task_result if task is not None else None


@router.post("/sync-runs/{run_id}/discard", response={200: SyncRunOut, **ANSWERS}, **needs(roles.SYNC_RUN))
def discard_run(request: HttpRequest, run_id: int) -> SyncRunOut:
    """Drop a held run: nothing of it is applied (audited)."""
    discard_held_run(_held(request, run_id), actor=request.actor)
    return get_run(request, run_id)
