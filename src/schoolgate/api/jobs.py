"""Background jobs (account generation, bulk actions): status and progress."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router

from schoolgate.admins import roles
from schoolgate.api.auth import jobs_of, needs
from schoolgate.api.errors import ERROR_STATUSES, ErrorOut
from schoolgate.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageInfo, decode, page
from schoolgate.api.schemas import JobOut, JobsPage
from schoolgate.jobs.models import Job, JobStatus
from schoolgate.jobs.views_data import describe_job

router = Router(tags=["jobs"])


def _job(job: Job) -> JobOut:
    data = describe_job(job)
    # Report files live on the server (the console downloads them); the API says whether they exist.
    data["report_pdf"], data["report_csv"] = bool(job.report_pdf), bool(job.report_csv)
    return JobOut(**data)


@router.get("/jobs", response={200: JobsPage, ERROR_STATUSES: ErrorOut}, **needs(roles.VIEW_ACCOUNTS))
def list_jobs(
    request: HttpRequest,
    status: JobStatus | None = None,
    cursor: str | None = Query(None, max_length=2000),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> JobsPage:
    """The district's jobs, newest first (a school-limited level: the ones it started)."""
    jobs = jobs_of(request).order_by("-pk")
    if status:
        jobs = jobs.filter(status=status)
    after = decode("jobs", cursor)
    if after:
        jobs = jobs.filter(pk__lt=int(after[0]))
    shown, following = page(list(jobs[: limit + 1]), limit, "jobs", lambda j: [j.pk])
    return JobsPage(items=[_job(j) for j in shown], page=PageInfo(next=following, limit=limit))


@router.get("/jobs/{job_id}", response={200: JobOut, ERROR_STATUSES: ErrorOut}, **needs(roles.VIEW_ACCOUNTS))
def get_job(request: HttpRequest, job_id: int) -> JobOut:
    """One job's status and progress."""
    return _job(jobs_of(request).get(pk=job_id))  # TokenAuth checked it is the district's
