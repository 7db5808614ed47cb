"""The account manager: filter, search, keyset pages; select one, a page or every match; confirm; act."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from schoolgate.accounts.bulk_jobs import ACTIONS, KIND
from schoolgate.accounts.models import Account, AccountState, RevokeReason
from schoolgate.accounts.queries import InvalidFilter
from schoolgate.admins import roles
from schoolgate.console.access import actor_of, admin_view, school_limit, scope_of
from schoolgate.console.queries import Filters, Page, account_page, matching
from schoolgate.core.models import School
from schoolgate.jobs.runner import create_job, run_job
from schoolgate.people.models import PersonKind

RUN_INLINE_UP_TO = 200  # larger selections go to the worker, with a progress page
SHOWN_IN_CONFIRMATION = 50


@admin_view(roles.VIEW_ACCOUNTS)
def account_list(request: HttpRequest) -> HttpResponse:
    filters = Filters.from_query(request.GET)
    try:
        page = account_page(
            request.district, filters, request.GET.get("after"), int(request.GET.get("per_page", 50)),
            within=scope_of(request),
        )  # fmt: skip
        error = ""
    except (InvalidFilter, ValueError) as exc:
        page, error = None, str(exc)
    context = {
        "filters": filters,
        "page": page,
        "error": error,
        "kinds": PersonKind.values,
        "states": AccountState.values,
        "reasons": RevokeReason.values,
        # (code, name) pairs, not model instances: this list is built on every page of a busy screen.
        "schools": School.objects.filter(
            district=request.district, org_type="school", **school_limit(request)
        )
        .order_by("name")
        .values_list("sis_code", "name"),
        "actions": ACTIONS,
        "next_query": _next_page_query(request, filters, page),
    }
    template = "console/_account_rows.html" if request.htmx else "console/accounts.html"
    return render(request, template, context, status=400 if error else 200)


def _next_page_query(request: HttpRequest, filters: Filters, page: Page | None) -> str:
    """The next page's query string: the same filters, search and page size, after the last row shown."""
    if page is None or page.next_cursor is None:
        return ""
    params = filters.as_query()
    if request.GET.get("per_page"):
        params["per_page"] = request.GET["per_page"]
    return urlencode({**params, "after": page.next_cursor})


def _selected(request: HttpRequest) -> tuple[list[int], Filters]:
    """Person ids of the selection: the ticked accounts, or every account matching the filters."""
    filters = Filters.from_query(request.POST)
    qs = matching(request.district, filters, scope_of(request))
    if request.POST.get("scope") != "all":
        qs = qs.filter(pk__in=[int(v) for v in request.POST.getlist("account") if v.isdigit()])
    return list(
        qs.order_by("person__family_name", "person__given_name").values_list("person_id", flat=True)
    ), filters


@admin_view(roles.ACT_ACCOUNTS)
@require_http_methods(["POST"])
def account_action(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    if action not in ACTIONS:
        return render(
            request,
            "console/message.html",
            {"title": "Choose an action", "message": "Pick an action."},
            status=400,
        )
    person_ids, filters = _selected(request)
    if not person_ids:
        return render(request, "console/message.html", {"title": "Nothing selected",
                      "message": "Tick at least one account, or choose “every match”."}, status=400)  # fmt: skip
    if request.POST.get("confirmed") != "yes":
        shown = Account.objects.filter(person_id__in=person_ids[:SHOWN_IN_CONFIRMATION]).select_related(
            "person"
        )
        return render(request, "console/confirm.html", {
            "action": action, "label": ACTIONS[action], "count": len(person_ids), "shown": shown,
            "more": max(0, len(person_ids) - SHOWN_IN_CONFIRMATION), "post": request.POST,
        })  # fmt: skip
    job = create_job(
        request.district, kind=KIND, title=f"{ACTIONS[action]}: {len(person_ids)} account(s)",
        person_ids=person_ids, params={"action": action, "filters": filters.as_query()}, actor=actor_of(request),
    )  # fmt: skip
    if len(person_ids) <= RUN_INLINE_UP_TO:
        run_job(job.pk)
    return redirect("console:job", slug=request.district.slug, job_id=job.pk)
