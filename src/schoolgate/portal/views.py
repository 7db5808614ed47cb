"""Portal pages. Views stay thin: read the form, call a domain function, render."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from schoolgate.accounts import lifecycle, passwords
from schoolgate.accounts.authentication import LoginRefused, authenticate
from schoolgate.accounts.models import LinkPurpose
from schoolgate.accounts.portal_data import visible_students
from schoolgate.accounts.tokens import LinkInvalid, read_token
from schoolgate.accounts.usernames import InvalidUsername
from schoolgate.core import admission
from schoolgate.core.models import District
from schoolgate.core.redirects import safe_next
from schoolgate.portal.queries import with_schools
from schoolgate.portal.session import current_account, log_in, log_out, login_required


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/home.html", {"districts": District.objects.order_by("name")})


def _invalid(request: HttpRequest, error: LinkInvalid) -> HttpResponse:
    return render(
        request, "portal/link_invalid.html", {"message": str(error)}, status=410 if error.expired else 400
    )


@require_http_methods(["GET", "POST"])
def activate(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = read_token(token, LinkPurpose.WELCOME)
    except LinkInvalid as error:
        return _invalid(request, error)
    account = link.account
    chooses = not account.username
    errors: list[str] = []
    if request.method == "POST":
        username = request.POST.get("username", "") if chooses else account.username
        password = request.POST.get("password", "")
        if password != request.POST.get("password2", ""):
            errors.append("The two passwords are not the same.")
        else:
            try:
                passwords.check_policy(account, password, username=username)
                account = lifecycle.activate_account(
                    account, username=username, password=password, actor="portal"
                )
                log_in(request, account)
                return redirect("portal:students")
            except (passwords.PasswordRejected, InvalidUsername, lifecycle.IllegalTransition) as exc:
                errors.extend(getattr(exc, "messages", [str(exc)]))
    return render(
        request,
        "portal/activate.html",
        {"account": account, "chooses": chooses, "errors": errors},
        status=400 if errors else 200,
    )


@admission.admitted
@require_http_methods(["GET", "POST"])
def log_in_view(request: HttpRequest, slug: str) -> HttpResponse:
    district = get_object_or_404(District, slug=slug)
    error = ""
    # Where to go after logging in (e.g. back to an OpenID Connect authorization request): a path here only.
    next_url = safe_next(request, path_only=True)
    if request.method == "POST":
        try:
            account = authenticate(
                district, request.POST.get("identifier", ""), request.POST.get("password", "")
            )
        except LoginRefused as exc:
            error = str(exc)
        else:
            log_in(request, account)
            if account.must_change_password:
                return redirect("portal:password")
            return redirect(next_url or "portal:students")
    return render(
        request,
        "portal/login.html",
        {"district": district, "error": error, "next": next_url},
        status=400 if error else 200,
    )


def _logged_out(request: HttpRequest, district: District | None, text: str) -> HttpResponse:
    """Back to the district's login page, saying so. The text travels as a Django message (a signed cookie),
    not in the address, so no link can make the login page claim anything."""
    messages.success(request, text)
    return redirect("portal:login", district.slug) if district else redirect("portal:home")


@require_http_methods(["POST"])
def log_out_view(request: HttpRequest) -> HttpResponse:
    # Read before the session ends: it is the only thing that knows which district's login page to go back to
    # (a session that had already ended knows none, and lands on the list of districts).
    account = current_account(request)
    log_out(request)
    return _logged_out(request, account.district if account else None, "You are logged out.")


@require_http_methods(["GET", "POST"])
def forgot(request: HttpRequest, slug: str) -> HttpResponse:
    district = get_object_or_404(District, slug=slug)
    if request.method == "POST":
        passwords.request_reset(district, request.POST.get("identifier", ""))
        # The same answer whether or not anything matched: the form must not reveal who has an account.
        return render(request, "portal/forgot_sent.html", {"district": district})
    return render(request, "portal/forgot.html", {"district": district})


@require_http_methods(["GET", "POST"])
def reset(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = read_token(token, LinkPurpose.RESET)
    except LinkInvalid as error:
        return _invalid(request, error)
    errors: list[str] = []
    if request.method == "POST":
        password = request.POST.get("password", "")
        if password != request.POST.get("password2", ""):
            errors.append("The two passwords are not the same.")
        else:
            try:
                account = passwords.reset_with_link(link, password)
                return render(request, "portal/reset_done.html", {"district": account.district})
            except passwords.PasswordRejected as exc:
                errors.extend(exc.messages)
    return render(
        request,
        "portal/reset.html",
        {"account": link.account, "errors": errors},
        status=400 if errors else 200,
    )


@login_required
def settings_view(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/settings.html", {"account": request.portal_account})


@login_required
@require_http_methods(["GET", "POST"])
def change_password(request: HttpRequest) -> HttpResponse:
    account = request.portal_account
    errors: list[str] = []
    if request.method == "POST":
        new = request.POST.get("password", "")
        if new != request.POST.get("password2", ""):
            errors.append("The two passwords are not the same.")
        else:
            try:
                account = passwords.change_password(account, request.POST.get("current", ""), new)
                log_in(request, account)  # this session continues under the new credentials; others end
                messages.success(request, "Your password was changed.")
                return redirect("portal:settings")
            except passwords.PasswordRejected as exc:
                errors.extend(exc.messages)
    return render(
        request, "portal/password.html", {"account": account, "errors": errors}, status=400 if errors else 200
    )


@login_required
def students(request: HttpRequest) -> HttpResponse:
    account = request.portal_account
    students = with_schools(account.district_id, visible_students(account))
    return render(request, "portal/students.html", {"account": account, "students": students})


@login_required
@require_http_methods(["POST"])
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    account = request.portal_account
    passwords.end_sessions(account, actor="portal")
    log_out(request)
    return _logged_out(request, account.district, "You are logged out on every device.")
