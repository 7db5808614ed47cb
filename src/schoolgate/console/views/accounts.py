"""The account manager: filter, search, keyset pages; select one, a page or every match; confirm; act."""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from schoolgate.accounts.bulk_jobs import ACTIONS, KIND
from schoolgate.accounts.models import Account, AccountState, RevokeReason
from schoolgate.accounts.queries import InvalidFilter
from schoolgate.admins import roles
from schoolgate.console.access import actor_of, admin_view, school_limit, scope_of
from schoolgate.console.queries import ORDER, Filters, Page, account_page, matching
from schoolgate.core.models import School
from schoolgate.core.numbers import whole_number
from schoolgate.jobs.runner import create_job, run_job
from schoolgate.people.models import PersonKind

RUN_INLINE_UP_TO = 200  # larger selections go to the worker, with a progress page
SHOWN_IN_CONFIRMATION = 50


@admin_view(roles.VIEW_ACCOUNTS)
def account_list(request: HttpRequest) -> HttpResponse:
    filters = Filters.from_query(request.GET)
    try:
        page = account_page(
            request.district, filters, request.GET.get("after"), _per_page(request), within=scope_of(request)
        )
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


def _per_page(request: HttpRequest) -> int:
    value = request.GET.get("per_page", "50")
    try:
        return int(value)
    except ValueError:
        raise InvalidFilter(f"“Per page” must be a whole number, not {value!r}") from None


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
        ticked = (whole_number(v) for v in request.POST.getlist("account"))
        qs = qs.filter(pk__in=[pk for pk in ticked if pk is not None])
    # The account list's order, so that the confirmation shows the first accounts as the list showed them.
    return list(qs.order_by(*ORDER).values_list("person_id", flat=True)), filters


def _list_url(request: HttpRequest) -> str:
    """The account list under the filters the form was sent from (its hidden fields carry them)."""
    query = urlencode(Filters.from_query(request.POST).as_query())
    return reverse("console:accounts", args=[request.district.slug]) + (f"?{query}" if query else "")


def _back_to_list(request: HttpRequest, title: str, message: str) -> HttpResponse:
    """A refused form: say why, with a link back to the list the admin came from rather than the dashboard."""
    return render(request, "console/message.html", {
        "title": title, "message": message, "back_url": _list_url(request), "back_label": "Back to the account list",
    }, status=400)  # fmt: skip


@admin_view(roles.ACT_ACCOUNTS)
@require_http_methods(["POST"])
def account_action(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    if action not in ACTIONS:
        return _back_to_list(request, "Choose an action", "Pick an action.")
    try:
        person_ids, filters = _selected(request)
    except InvalidFilter as exc:
        return _back_to_list(request, "Check the filters", str(exc))
    if not person_ids:
        return _back_to_list(request, "Nothing selected",
                             "Tick at least one account, or choose “every account matching the filters”.")  # fmt: skip
    # "Every match" is asked again when the admin confirms: if the accounts it finds are no longer exactly
    # those the confirmation listed (a sync or another admin moved some), show the new selection instead.
    selection = _selection_key(person_ids)
    confirmed = request.POST.get("confirmed") == "yes"
    changed = confirmed and request.POST.get("selection") != selection
    if not confirmed or changed:
        shown = (
            Account.objects.filter(
                district=request.district, person_id__in=person_ids[:SHOWN_IN_CONFIRMATION]
            )
            .select_related("person")
            .order_by(*ORDER)
        )
        return render(request, "console/confirm.html", {
            "action": action, "label": ACTIONS[action], "count": len(person_ids), "shown": shown,
            "more": max(0, len(person_ids) - SHOWN_IN_CONFIRMATION), "post": request.POST,
            "cancel_url": _list_url(request), "selection": selection, "changed": changed,
            "not_carried": ("csrfmiddlewaretoken", "confirmed", "selection"),
        }, status=409 if changed else 200)  # fmt: skip
    job = create_job(
        request.district, kind=KIND, title=f"{ACTIONS[action]}: {len(person_ids)} account(s)",
        person_ids=person_ids, params={"action": action, "filters": filters.as_query()}, actor=actor_of(request),
    )  # fmt: skip
    if len(person_ids) <= RUN_INLINE_UP_TO:
        run_job(job.pk)
    return redirect("console:job", slug=request.district.slug, job_id=job.pk)


def _selection_key(person_ids: list[int]) -> str:
    """What the confirmation showed, in a form field: a digest of exactly which accounts were selected."""
    return hashlib.sha256(",".join(map(str, sorted(person_ids))).encode()).hexdigest()
