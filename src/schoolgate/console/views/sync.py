"""Sync from the console: upload a SIS file set, read each run's report, confirm or discard a held run."""

from __future__ import annotations

from pathlib import Path

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from schoolgate.admins import roles
from schoolgate.console.access import actor_of, admin_view
from schoolgate.console.views.people import names_of
from schoolgate.sync.decisions import Superseded, check_can_confirm, discard_held_run
from schoolgate.sync.engine import run_sync
from schoolgate.sync.models import SyncRun, SyncStatus
from schoolgate.sync.tasks import run_sync_task
from schoolgate.sync.uploads import MAX_UPLOAD, store_upload

RUN_INLINE_UP_TO = 5 * 1024 * 1024  # bytes of upload; larger files sync in the worker
# Revocations of a held run listed on its page (a held diff keeps up to 250,000); the heading's count is exact.
DIFF_SHOWN = 500


@admin_view(roles.SYNC_VIEW)
def runs(request: HttpRequest) -> HttpResponse:
    return render(
        request, "console/sync.html", {"runs": SyncRun.objects.filter(district=request.district)[:50]}
    )


def _problem(
    request: HttpRequest, title: str, message: str, status: int, *, back: SyncRun | None = None
) -> HttpResponse:
    """An error page whose link leads back to where the admin can act on it: the run, else the upload form."""
    if back is None:
        link = (reverse("console:sync", kwargs={"slug": request.district.slug}), "Back to Sync")
    else:
        link = (reverse("console:sync_run", kwargs={"slug": request.district.slug, "run_id": back.pk}),
                f"Back to run #{back.pk}")  # fmt: skip
    context = {"title": title, "message": message, "back_url": link[0], "back_label": link[1]}
    return render(request, "console/message.html", context, status=status)


def _start(request: HttpRequest, path: Path, *, confirming: int | None = None) -> HttpResponse:
    if path.stat().st_size <= RUN_INLINE_UP_TO:
        outcome = run_sync(request.district, path, confirming=confirming, actor=actor_of(request))
        return redirect("console:sync_run", slug=request.district.slug, run_id=outcome.run)
    run_sync_task.enqueue(request.district.pk, str(path), actor_of(request), confirming=confirming)
    return redirect("console:sync", slug=request.district.slug)


@admin_view(roles.SYNC_RUN)
@require_http_methods(["POST"])
def upload(request: HttpRequest) -> HttpResponse:
    upload = request.FILES.get("file")
    if upload is None or not upload.name.lower().endswith(".zip"):
        return _problem(request, "Upload a .zip",
                        "Choose the SIS export as one .zip file (OneRoster or SDS CSV files at its root).", 400)  # fmt: skip
    if upload.size > MAX_UPLOAD:
        return _problem(request, "File too large", "The limit is 2 GB.", 400)
    return _start(request, store_upload(request.district, upload))


@admin_view(roles.SYNC_VIEW)
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(SyncRun, district=request.district, pk=run_id)
    revoking = [m for m in run.diff if m.get("to") == "ready_to_revoke"]
    # Only a held run lists who would lose access (the admin decides on it); the diff has codes, not names.
    shown = revoking[:DIFF_SHOWN] if run.status == SyncStatus.HELD else []
    names = names_of(request, [m["person"] for m in shown])
    return render(request, "console/sync_run.html", {
        "run": run,
        "revoking": [m | {"name": names.get(m["person"])} for m in shown],
        "not_shown": len(revoking) - len(shown),
        "other_moves": len(run.diff) - len(revoking),
    })  # fmt: skip


@admin_view(roles.SYNC_RUN)
@require_http_methods(["POST"])
def decide(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(SyncRun, district=request.district, pk=run_id)
    if run.status != SyncStatus.HELD:
        raise Http404("only a held run can be confirmed or discarded")
    if request.POST.get("decision") == "confirm":
        if not Path(run.source).exists():
            return _problem(request, "Files gone",
                            "The uploaded files are no longer on the server: upload them again.", 400)  # fmt: skip
        try:
            check_can_confirm(run)
        except Superseded as exc:
            return _problem(request, "Newer files were applied", str(exc), 409, back=run)
        return _start(request, Path(run.source), confirming=run.pk)
    discard_held_run(run, actor=actor_of(request))
    return redirect("console:sync_run", slug=request.district.slug, run_id=run.pk)
