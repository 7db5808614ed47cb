"""Generating accounts and watching jobs: groups, preview, start, progress, report downloads."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from schoolgate.accounts import generation
from schoolgate.accounts.models import AccountGroup
from schoolgate.admins import roles
from schoolgate.console.access import actor_of, admin_view
from schoolgate.jobs.models import Job
from schoolgate.jobs.views_data import describe_job

PREVIEW_ROWS = 500


@admin_view(roles.GENERATE)
def groups(request: HttpRequest) -> HttpResponse:
    return render(
        request, "console/groups.html", {"groups": AccountGroup.objects.filter(district=request.district)}
    )


@admin_view(roles.GENERATE)
def preview(request: HttpRequest, group_id: int) -> HttpResponse:
    group = get_object_or_404(AccountGroup, district=request.district, pk=group_id)
    rows = generation.preview(group, limit=PREVIEW_ROWS)
    counts = {
        kind: sum(1 for r in rows if r.account == kind)
        for kind in (generation.WILL_BE_CREATED, generation.EXISTS)
    }
    total = generation.group_accounts(group).count()
    return render(
        request, "console/preview.html", {"group": group, "rows": rows, "counts": counts, "total": total}
    )


@admin_view(roles.GENERATE)
@require_http_methods(["POST"])
def start(request: HttpRequest, group_id: int) -> HttpResponse:
    group = get_object_or_404(AccountGroup, district=request.district, pk=group_id)
    job = generation.start(group, actor=actor_of(request))
    return redirect("console:job", slug=request.district.slug, job_id=job.pk)


def jobs_of(request: HttpRequest) -> QuerySet[Job]:
    """The district's jobs this admin may follow: all of them, or a school admin's own."""
    jobs = Job.objects.filter(district=request.district)
    return jobs.filter(created_by=actor_of(request)) if request.access.school_limited else jobs


@admin_view(roles.VIEW_ACCOUNTS)
def job(request: HttpRequest, job_id: int) -> HttpResponse:
    found = get_object_or_404(jobs_of(request), pk=job_id)
    context = {"job": describe_job(found), "job_id": found.pk}
    template = "console/_job_progress.html" if request.htmx else "console/job.html"
    return render(request, template, context)


@admin_view(roles.VIEW_ACCOUNTS)
def report(request: HttpRequest, job_id: int, kind: str) -> FileResponse:
    found = get_object_or_404(jobs_of(request), pk=job_id)
    path = Path(found.report_pdf if kind == "pdf" else found.report_csv) if kind in ("pdf", "csv") else None
    reports_root = Path(settings.SCHOOLGATE_REPORTS_DIR).resolve()
    if path is None or not str(path) or not path.is_file() or reports_root not in path.resolve().parents:
        raise Http404("no such report")
    content_type = "application/pdf" if kind == "pdf" else "text/csv; charset=utf-8"
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name, content_type=content_type)
