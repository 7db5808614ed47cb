"""The platform operator's pages: every district's health, creating a district (and inviting its Primary),
and validating or rejecting changes of Primary.

Health is counts and statuses only — never a name, an address or a login. An operator who needs to look at a
district's people must be granted a membership there like anyone else.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from schoolgate.accounts.models import Account
from schoolgate.admins import roles
from schoolgate.admins.delegation import AdminChangeRejected, decide_primary_change, invite_admin
from schoolgate.admins.models import AdminMembership, PrimaryChangeRequest, RequestStatus
from schoolgate.console.access import operator_view
from schoolgate.core.districts import DistrictRejected, create_district
from schoolgate.core.models import District
from schoolgate.jobs.models import Job
from schoolgate.mail.models import OutboxMessage, OutboxStatus
from schoolgate.sync.models import SyncRun, SyncStatus

HEALTH_WINDOW = timedelta(days=7)
# Runs that did not get the district's SIS data in: the files were refused (rejected) or the run broke (failed).
UNSUCCESSFUL_SYNC = (SyncStatus.REJECTED, SyncStatus.FAILED)


def health() -> list[dict[str, Any]]:
    """One row per district: accounts, admins, the last sync, and what failed in the last week.

    Needs attention: no Primary, a held sync, a failed sync, job or e-mail in the window, or a most recent sync
    that was rejected or failed. Rejected runs in the window are counted with failed ones but flag the district
    only while the latest run is one: a bad file fixed by the next upload is not a problem now, while a SIS
    whose every upload is refused is (the district's data stopped moving).
    """
    since = timezone.now() - HEALTH_WINDOW
    latest = SyncRun.objects.filter(district=OuterRef("pk")).order_by("-started_at", "-id")
    districts = District.objects.order_by("name").annotate(
        last_sync=Subquery(latest.values("started_at")[:1]),
        last_sync_status=Subquery(latest.values("status")[:1]),
    )
    # Separate grouped counts, not one query joining accounts to admins (that would multiply the rows).
    accounts = dict(Account.objects.values_list("district").annotate(n=Count("id")).order_by())
    admins = dict(AdminMembership.objects.values_list("district").annotate(n=Count("id")).order_by())
    primaries = set(AdminMembership.objects.filter(role=roles.PRIMARY).values_list("district", flat=True))
    held = dict(
        SyncRun.objects.filter(status=SyncStatus.HELD)
        .values_list("district")
        .annotate(n=Count("id"))
        .order_by()
    )
    # Per district: (failed, failed or rejected) in the window.
    bad_syncs = {
        district: (failed, unsuccessful)
        for district, failed, unsuccessful in SyncRun.objects.filter(
            status__in=UNSUCCESSFUL_SYNC, started_at__gte=since
        )
        .values_list("district")
        .annotate(failed=Count("id", filter=Q(status=SyncStatus.FAILED)), unsuccessful=Count("id"))
        .order_by()
    }
    failed_jobs = dict(
        Job.objects.filter(status="failed", created_at__gte=since)
        .values_list("district")
        .annotate(n=Count("id"))
        .order_by()
    )
    failed_mail = dict(
        OutboxMessage.objects.filter(status=OutboxStatus.FAILED, created_at__gte=since)
        .values_list("district").annotate(n=Count("id")).order_by()
    )  # fmt: skip
    rows = []
    for d in districts:
        failed_syncs, unsuccessful_syncs = bad_syncs.get(d.pk, (0, 0))
        problems = (
            held.get(d.pk, 0)
            + failed_syncs
            + failed_jobs.get(d.pk, 0)
            + failed_mail.get(d.pk, 0)
            + (d.last_sync_status in UNSUCCESSFUL_SYNC)
        )
        rows.append({
            "slug": d.slug, "name": d.name, "accounts": accounts.get(d.pk, 0), "admins": admins.get(d.pk, 0),
            "has_primary": d.pk in primaries,
            "last_sync": d.last_sync, "last_sync_status": d.last_sync_status, "held_syncs": held.get(d.pk, 0),
            "unsuccessful_syncs": unsuccessful_syncs,
            "failed_jobs": failed_jobs.get(d.pk, 0), "failed_mail": failed_mail.get(d.pk, 0),
            "healthy": problems == 0 and d.pk in primaries,
        })  # fmt: skip
    return rows


def _page(request: HttpRequest, error: str = "", status: int = 200) -> HttpResponse:
    context = {
        "districts": health(),
        "pending": PrimaryChangeRequest.objects.filter(status=RequestStatus.PENDING).select_related(
            "district"
        ),
        "error": error,
    }
    return render(request, "console/operator.html", context, status=status)


@operator_view
def overview(request: HttpRequest) -> HttpResponse:
    return _page(request)


@operator_view
@require_http_methods(["POST"])
def add_district(request: HttpRequest) -> HttpResponse:
    """Create a district and invite its Primary admin, together or not at all."""
    post, actor = request.POST, f"operator:{request.user.get_username()}"
    try:
        with transaction.atomic():
            district = create_district(post.get("slug", "").strip(), post.get("name", ""), actor=actor)
            invite_admin(
                district, post.get("primary_email", ""), roles.PRIMARY, actor=actor, allow_primary=True
            )
    except (DistrictRejected, AdminChangeRejected) as exc:
        return _page(request, str(exc), status=400)
    return redirect("console:operator")


@operator_view
@require_http_methods(["POST"])
def decide(request: HttpRequest, request_id: int) -> HttpResponse:
    """Validate or reject a change of Primary."""
    change = PrimaryChangeRequest.objects.select_related("district").filter(pk=request_id).first()
    if change is None:
        raise Http404("no such request")
    try:
        decide_primary_change(change, approve=request.POST.get("decision") == "approve",
                              actor=f"operator:{request.user.get_username()}", note=request.POST.get("note", ""))  # fmt: skip
    except AdminChangeRejected as exc:
        return _page(request, str(exc), status=400)
    return redirect("console:operator")
