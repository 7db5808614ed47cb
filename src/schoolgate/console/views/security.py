"""Admin login security: password, then a second factor; enrolling an authenticator; recovery codes;
accepting an invitation; the district switcher and the list of one's districts.

The login is two steps. The password step is django-axes-guarded (lockout per account and per IP address);
the second step takes a TOTP code or a one-time recovery code (django-otp, which throttles repeated wrong
codes). An admin without an authenticator yet enrols one before anything else: MFA is not optional.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from schoolgate.admins import authz
from schoolgate.admins.delegation import (
    AdminChangeRejected,
    InvitationInvalid,
    accept_invitation,
    create_admin_login,
    invited_login,
    read_invitation,
    role_label,
)
from schoolgate.console.access import actor_of, admin_view
from schoolgate.core import admission, audit
from schoolgate.core.redirects import safe_next

RECOVERY_CODES = 10


@method_decorator(admission.admitted, name="dispatch")
class LoginView(auth_views.LoginView):
    """The password step; the second factor follows (`mfa`)."""

    template_name = "console/login.html"

    def get_success_url(self) -> str:
        target = self.get_redirect_url()
        return reverse("console:mfa") + (f"?{urlencode({'next': target})}" if target else "")


def _next(request: HttpRequest) -> str:
    """Where to go once the second factor is done: the request's safe `next`, else the console's home."""
    return safe_next(request, reverse("console:home"))


def _new_recovery_codes(user: object) -> list[str]:
    """Replace the admin's recovery codes with a fresh set, shown once; each works once."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name="Recovery codes", defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@require_http_methods(["GET", "POST"])
def mfa(request: HttpRequest) -> HttpResponse:
    """The second step: a code from the authenticator (or a recovery code); enrolment when there is none yet."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path(), "console:login")
    if user.is_verified():
        return redirect(_next(request))
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return _enrol(request)
    error = ""
    if request.method == "POST":
        code = request.POST.get("code", "").replace(" ", "").lower()
        # Six digits are an authenticator code; anything else a recovery code. Trying each only on its own
        # device keeps a recovery code from counting as a wrong authenticator code (and vice versa).
        device_model = TOTPDevice if code.isascii() and code.isdigit() and len(code) == 6 else StaticDevice
        device = device_model.objects.filter(user=user, confirmed=True).first()
        error = _throttled(device) if device else "That code is not right."
        if not error and device.verify_token(code):
            otp_login(request, device)
            if isinstance(device, StaticDevice):
                left = device.token_set.count()
                audit.record(None, actor_of(request), "admin.recovery_code_used", target_type="admin",
                             target_id=user.pk, target_label=user.get_username(), after={"codes_left": left})  # fmt: skip
            return redirect(_next(request))
        error = error or "That code is not right (or was already used). Codes change every 30 seconds."
    return render(request, "console/mfa_verify.html", {"error": error, "next": _next(request)},
                  status=400 if error else 200)  # fmt: skip


def _enrol(request: HttpRequest) -> HttpResponse:
    import segno  # only enrolment draws a QR code

    user = request.user
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first() or TOTPDevice.objects.create(
        user=user, name="Authenticator app", confirmed=False
    )
    error = ""
    waiting = _throttled(device) if request.method == "POST" else ""
    if waiting:
        error = waiting
    elif request.method == "POST":
        if device.verify_token(request.POST.get("code", "").replace(" ", "")):
            with transaction.atomic():
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                codes = _new_recovery_codes(user)
                audit.record(None, actor_of(request), "admin.mfa_enrolled", target_type="admin", target_id=user.pk,
                             target_label=user.get_username())  # fmt: skip
            otp_login(request, device)
            return render(request, "console/recovery_codes.html", {"codes": codes, "next": _next(request)})
        error = "That code is not right. Check the time on your phone, then type the code shown now."
    context = {
        "qr": segno.make(device.config_url, error="m").svg_data_uri(scale=5),
        "secret": _base32(device.bin_key),
        "error": error,
        "next": _next(request),
    }
    return render(request, "console/mfa_enrol.html", context, status=400 if error else 200)


def _throttled(device: TOTPDevice | None) -> str:
    """Why a code cannot be tried yet (django-otp doubles the wait after each wrong code), or ""."""
    if device is None:
        return ""
    allowed, _ = device.verify_is_allowed()
    if allowed:
        return ""
    return "Too many wrong codes: wait a few seconds, then type the code your app shows now."


def _base32(key: bytes) -> str:
    from base64 import b32encode

    text = b32encode(key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


@admin_view(None)
@require_http_methods(["GET", "POST"])
def security(request: HttpRequest) -> HttpResponse:
    """The admin's own security: recovery codes left, and a fresh set on request."""
    codes = None
    if request.method == "POST" and request.POST.get("action") == "recovery_codes":
        with transaction.atomic():
            codes = _new_recovery_codes(request.user)
            audit.record(None, actor_of(request), "admin.recovery_codes_renewed", target_type="admin",
                         target_id=request.user.pk, target_label=request.user.get_username())  # fmt: skip
    left = StaticToken.objects.filter(device__user=request.user).count()
    return render(request, "console/security.html", {"codes": codes, "codes_left": left})


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Accept an invitation: choose a password (a new admin) or confirm while logged in (an existing one)."""
    try:
        invite = read_invitation(token)
    except InvitationInvalid as exc:
        return render(request, "console/invitation.html", {"invalid": str(exc)}, status=410)
    user, error = request.user, ""
    login = invited_login(invite.email)
    if user.is_authenticated and (login is None or user.pk != login.pk):
        # Someone else is signed in on this browser: accepting must not make a second login for the invitee
        # while the console stays signed in as the other admin (who would then land on a district they are
        # not in).
        return render(request, "console/message.html", {
            "title": "Signed in as someone else",
            "message": f"This invitation is for {invite.email}, and this browser is signed in to the console as "
                       f"{user.get_username()}. Log out, then open the invitation link again.",
        }, status=409)  # fmt: skip
    if login is not None and not (user.is_authenticated and user.is_verified()):
        return redirect_to_login(request.get_full_path(), "console:login")  # an existing admin logs in first
    if request.method == "POST":
        try:
            with transaction.atomic():
                if login is None:
                    if request.POST.get("password", "") != request.POST.get("password2", ""):
                        raise AdminChangeRejected("The two passwords differ.")
                    login = create_admin_login(invite.email, request.POST.get("password", ""))
                accept_invitation(invite, login, actor=f"admin:{invite.email}")
        except ValidationError as exc:
            error, login = " ".join(exc.messages), None
        except AdminChangeRejected as exc:
            error, login = str(exc), None if not user.is_authenticated else login
        else:
            dashboard = reverse("console:dashboard", args=[invite.district.slug])
            if not user.is_authenticated:
                auth_login(request, login, backend="django.contrib.auth.backends.ModelBackend")
                return redirect(reverse("console:mfa") + "?" + urlencode({"next": dashboard}))
            return redirect(dashboard)
    context = {"invite": invite, "role_label": role_label(invite.role), "has_login": login is not None,
               "error": error}  # fmt: skip
    return render(request, "console/invitation.html", context, status=400 if error else 200)


@admin_view(None)
def home(request: HttpRequest) -> HttpResponse:
    """The admin's districts (one login may administer several)."""
    return render(request, "console/home.html", {"districts": authz.districts_for(request.user)})


@admin_view(None)
def switch(request: HttpRequest) -> HttpResponse:
    """The district switcher: go to the chosen district's dashboard (which checks the membership)."""
    slug = request.GET.get("district", "")
    if not authz.districts_for(request.user).filter(slug=slug).exists():
        return redirect("console:home")
    return redirect("console:dashboard", slug=slug)
