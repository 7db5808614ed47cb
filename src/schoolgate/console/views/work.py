"""Generating accounts and watching jobs: groups (and defining one), preview, start, progress, report
downloads."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from schoolgate.accounts import generation
from schoolgate.accounts import groups as group_rules
from schoolgate.accounts.groups import GroupRejected, define_group
from schoolgate.accounts.models import AccountGroup, PasswordMode, UsernameSource
from schoolgate.admins import roles
from schoolgate.console.access import actor_of, admin_view, school_limit
from schoolgate.core.models import School
from schoolgate.jobs.models import Job
from schoolgate.jobs.views_data import describe_job

PREVIEW_ROWS = 500


# The New group form's fields as a first visit shows them (the command line's defaults).
GROUP_FORM = {
    "name": "", "audience": "contact", "grades": "", "usernames": UsernameSource.SCHEME,
    "scheme": group_rules.DEFAULT_SCHEME, "max_length": str(group_rules.DEFAULT_MAX_LENGTH),
    "passwords": PasswordMode.ACTIVATION, "must_change": "on", "min_length": str(group_rules.DEFAULT_MIN_LENGTH),
}  # fmt: skip


def _groups_page(request: HttpRequest, form: dict | None = None, errors: dict | None = None) -> HttpResponse:
    """The groups and the New group form: blank, or as the admin sent it with what is wrong beside each field."""
    schools = School.objects.filter(district=request.district, **school_limit(request))
    context = {
        "groups": AccountGroup.objects.filter(district=request.district),
        "schools": schools.order_by("name", "sis_code").values_list("sis_code", "name"),
        "form": form or {**GROUP_FORM, "schools": []},
        "errors": errors or {},
        "audiences": AccountGroup._meta.get_field("audience").choices,
        "username_sources": UsernameSource.choices,
        "password_modes": PasswordMode.choices,
    }
    return render(request, "console/groups.html", context, status=400 if errors else 200)


@admin_view(roles.GENERATE)
def groups(request: HttpRequest) -> HttpResponse:
    return _groups_page(request)


@admin_view(roles.GENERATE)
@require_http_methods(["POST"])
def add_group(request: HttpRequest) -> HttpResponse:
    """Define a group from the New group form, then show its preview; or the form again, naming what is wrong."""
    form = {key: request.POST.get(key, "").strip() for key in GROUP_FORM}
    form["schools"] = request.POST.getlist("schools")
    errors, lengths = {}, {}
    for key in ("max_length", "min_length"):
        try:
            lengths[key] = int(form[key])
        except ValueError:
            errors[key] = "must be a whole number"
    if form["must_change"] not in ("on", "off"):
        errors["must_change"] = "choose on or off"
    if not errors:
        access = request.access
        try:
            group = define_group(
                request.district, name=form["name"], audience=form["audience"], schools=form["schools"],
                grades=re.split(r"[\s,]+", form["grades"]), usernames=form["usernames"], scheme=form["scheme"],
                passwords=form["passwords"], must_change=form["must_change"] == "on", **lengths,
                actor=actor_of(request), allowed_schools=access.school_codes if access.school_limited else None,
            )  # fmt: skip
        except GroupRejected as exc:
            errors = exc.errors
    if errors:
        return _groups_page(request, form, errors)
    return redirect("console:preview", slug=request.district.slug, group_id=group.pk)


@admin_view(roles.GENERATE)
def preview(request: HttpRequest, group_id: int) -> HttpResponse:
    group = get_object_or_404(AccountGroup, district=request.district, pk=group_id)
    rows = generation.preview(group, limit=PREVIEW_ROWS)
    counts = {
        "created": sum(1 for r in rows if r.account == generation.WILL_BE_CREATED),
        "fail": sum(1 for r in rows if r.account == generation.WILL_FAIL),
        "exists": sum(1 for r in rows if r.account == generation.EXISTS),
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


def may_read_report(request: HttpRequest, job: Job) -> bool:
    """A generation job's report lists the usernames it created and may hold the passwords it generated: only
    admins who may generate accounts read it (seeing accounts, as an auditor may, is not enough)."""
    return job.kind != generation.KIND or request.access.allows(roles.GENERATE)


@admin_view(roles.VIEW_ACCOUNTS)
def job(request: HttpRequest, job_id: int) -> HttpResponse:
    found = get_object_or_404(jobs_of(request), pk=job_id)
    context = {
        "job": describe_job(found),
        "job_id": found.pk,
        "may_read_report": may_read_report(request, found),
    }
    template = "console/_job_progress.html" if request.htmx else "console/job.html"
    return render(request, template, context)


@admin_view(roles.VIEW_ACCOUNTS)
def report(request: HttpRequest, job_id: int, kind: str) -> FileResponse:
    found = get_object_or_404(jobs_of(request), pk=job_id)
    if not may_read_report(request, found):
        raise PermissionDenied(
            "only admins who may generate accounts read this report: it may hold passwords"
        )
    path = Path(found.report_pdf if kind == "pdf" else found.report_csv) if kind in ("pdf", "csv") else None
    reports_root = Path(settings.SCHOOLGATE_REPORTS_DIR).resolve()
    if path is None or not str(path) or not path.is_file() or reports_root not in path.resolve().parents:
        raise Http404("no such report")
    content_type = "application/pdf" if kind == "pdf" else "text/csv; charset=utf-8"
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name, content_type=content_type)
