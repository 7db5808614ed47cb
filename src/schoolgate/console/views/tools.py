"""The doctor page, notifications, the audit log, and the dashboard."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from schoolgate.accounts.doctor import FixRejected, Report, apply_fix, diagnose
from schoolgate.accounts.doctor.diagnose import UnknownSubject
from schoolgate.accounts.lifecycle import IllegalTransition
from schoolgate.accounts.models import Account, AccountState
from schoolgate.admins import authz, roles
from schoolgate.console.access import actor_of, admin_view, require_people, scope_of
from schoolgate.console.charts import bar_chart, day_columns
from schoolgate.core.models import AuditEvent
from schoolgate.core.numbers import whole_number
from schoolgate.jobs.models import Notification


@admin_view(roles.DOCTOR)
@require_http_methods(["GET", "POST"])
def doctor(request: HttpRequest) -> HttpResponse:
    params = request.POST if request.method == "POST" else request.GET
    ask = {k: (params.get(k) or "").strip() or None for k in ("username", "email", "person", "student")}
    report, applied, error = None, None, ""
    # The form sends every field, filled in or not; a first visit sends none and is not an empty question.
    sent = any(k in params for k in ask)
    if any(ask[k] for k in ("username", "email", "person")):
        who = next(k for k in ("person", "username", "email") if ask[k])
        try:
            kwargs = {who: ask[who], "student": ask["student"]}
            report = diagnose(request.district, **kwargs)
            require_people(request, *report.subjects, ask["student"] or "")  # a school admin's people only
            if request.method == "POST" and params.get("apply"):
                _require_fix(request, report, params["apply"])
                applied = apply_fix(request.district, report, params["apply"], actor=actor_of(request))
                report = diagnose(request.district, **kwargs)
        except (UnknownSubject, FixRejected, IllegalTransition) as exc:
            error = str(exc)
    elif sent:
        error = "Enter a username, an e-mail address or a SIS code, then choose Diagnose."
    # Only the fixes this admin may apply get a button; the others say which permission they need.
    access = request.access  # type: ignore[attr-defined]
    rows = [(f, authz.fix_lacks(access, f.fix.action) if f.fix.applicable else None)
            for f in (report.findings if report else [])]  # fmt: skip
    context = {"ask": ask, "report": report, "rows": rows, "applied": applied, "error": error}
    return render(request, "console/doctor.html", context, status=400 if error else 200)


def _require_fix(request: HttpRequest, report: Report, code: str) -> None:
    """403 unless this admin may apply the fix of finding `code` (an unknown finding is apply_fix's to refuse)."""
    finding = report.finding(code)
    if finding is not None and finding.fix.applicable:
        lacking = authz.fix_lacks(request.access, finding.fix.action)  # type: ignore[attr-defined]
        if lacking:
            raise PermissionDenied(f"applying this fix needs {lacking}, which your role does not allow")


@admin_view(None)
@require_http_methods(["GET", "POST"])
def notifications(request: HttpRequest) -> HttpResponse:
    mine = Notification.objects.filter(district=request.district, recipient=actor_of(request))
    if request.method == "POST":
        # An id that is not a number names no notification (filtering on it as is raises: a 500).
        target = mine if request.POST.get("all") else mine.filter(pk=whole_number(request.POST.get("id")))
        target.filter(read_at__isnull=True).update(read_at=timezone.now())
        return redirect("console:notifications", slug=request.district.slug)
    return render(
        request, "console/notifications.html", {"items": mine.order_by("read_at", "-created_at")[:100]}
    )


@admin_view(roles.AUDIT_VIEW)
def audit_log(request: HttpRequest) -> HttpResponse:
    events = AuditEvent.objects.filter(district=request.district)
    for name, field in (
        ("actor", "actor__icontains"),
        ("action", "action__startswith"),
        ("target", "target_label__icontains"),
    ):
        if request.GET.get(name):
            events = events.filter(**{field: request.GET[name].strip()})
    for name, label, field in (("since", "From", "at__date__gte"), ("until", "To", "at__date__lte")):
        value = (request.GET.get(name) or "").strip()
        if not value:
            continue
        try:
            day = datetime.strptime(value, "%Y-%m-%d").date()
        except ValueError:
            # Searching without the date would show events the admin asked to leave out: say so instead.
            error = f"The “{label}” date must be written YYYY-MM-DD, for example 2025-09-01 (not “{value}”)."
            return render(request, "console/audit.html", {"page": None, "params": request.GET, "error": error},
                          status=400)  # fmt: skip
        events = events.filter(**{field: day})
    page = Paginator(events.order_by("-at", "-id"), 50).get_page(request.GET.get("page"))
    return render(request, "console/audit.html", {"page": page, "params": request.GET})


@admin_view(None)
def dashboard(request: HttpRequest) -> HttpResponse:
    # A school admin's figures are their schools' accounts, like every other page they see.
    accounts = Account.objects.filter(district=request.district)
    scope = scope_of(request)
    if scope is not None:
        accounts = accounts.filter(person__in=scope)
    by_state = dict(accounts.values_list("state").annotate(n=Count("id")).order_by())
    states = [(state, by_state.get(state, 0)) for state in AccountState.values]
    since = timezone.now() - timedelta(days=30)
    per_day = dict(
        accounts.filter(activated_at__gte=since)
        .annotate(day=TruncDate("activated_at"))
        .values_list("day")
        .annotate(n=Count("id"))
        .order_by()
    )
    days = day_columns(per_day, 30)
    return render(request, "console/dashboard.html", {
        "states_chart": bar_chart(states, title="Accounts by state"),
        "activations_chart": bar_chart(days, title="Activations per day, last 30 days", compact=True),
        "states": states,
    })  # fmt: skip


@admin_view(roles.BILLING_VIEW)
def usage(request: HttpRequest) -> HttpResponse:
    """Usage for invoices: accounts by kind and state (counts only, no people)."""
    counts = (
        Account.objects.filter(district=request.district)
        .values_list("person__kind", "state")
        .annotate(n=Count("id"))
        .order_by("person__kind", "state")
    )
    table: dict[str, dict[str, int]] = {}
    for kind, state, n in counts:
        table.setdefault(kind, {})[state] = n
    rows = [(kind, [by_state.get(s, 0) for s in AccountState.values], sum(by_state.values()))
            for kind, by_state in table.items()]  # fmt: skip
    return render(request, "console/usage.html", {"rows": rows, "states": AccountState.values})
