"""Admin management: the one door for every change to who administers a district.

    invite_admin(district, "ann@school.org", "support", actor=…)   -> (invitation, link token)
    accept_invitation(invitation, user, actor=…)                    -> membership
    change_role(membership, "auditor", actor=…)
    remove_admin(membership, actor=…)                               -> revokes API tokens, ends sessions
    request_primary_change(district, requested_by, email, reason, actor=…)
    decide_primary_change(request, approve=True, actor=…, note=…)   -> the platform operator's decision

Each function checks the move, writes its audit event (with the district it touched) and queues its e-mails in
the same transaction, so a refused or rolled-back change leaves nothing behind. Every change e-mails the
affected admin and sends the district's Primary a confirmation.

The Primary is special: the database allows one per district, and nothing here demotes or removes the Primary
except an operator-validated change request, which swaps both memberships in one transaction.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from schoolgate.admins import authz, roles
from schoolgate.admins.models import (
    AdminInvitation,
    AdminMembership,
    AdminSession,
    ApiToken,
    PrimaryChangeRequest,
    RequestStatus,
)
from schoolgate.core import audit
from schoolgate.core.models import District, School
from schoolgate.mail.outbox import check_address, enqueue

INVITATION_DAYS = 7
INVITATION_SALT = "schoolgate.admins.invitation"


class AdminChangeRejected(Exception):
    """The change is not allowed; the message says why, in words an admin understands."""


class InvitationInvalid(Exception):
    """The invitation link is not ours, was altered, expired, was used or withdrawn."""


# ---- roles -------------------------------------------------------------------------------------------------


def role_label(role: str) -> str:
    return roles.ROLE_NAMES.get(role, role.removeprefix(roles.SERVICE_PREFIX))


def check_role(district: District, role: str, school_codes: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The school codes to store for `role`, or AdminChangeRejected naming what is wrong."""
    if role.startswith(roles.SERVICE_PREFIX):
        key = role.removeprefix(roles.SERVICE_PREFIX)
        if not authz.service_levels(district).filter(key=key).exists():
            raise AdminChangeRejected(f"role {role!r}: no service level {key!r} is defined for this district")
    elif role not in roles.ROLES:
        raise AdminChangeRejected(
            f"role {role!r} is not a role (choose one of {', '.join(roles.ROLES)} or service:<level>)"
        )
    codes = sorted({code.strip() for code in school_codes if code.strip()})
    if role != roles.SCHOOL_ADMIN:
        if codes:
            raise AdminChangeRejected("only a school admin is limited to schools; leave the schools empty")
        return []
    if not codes:
        raise AdminChangeRejected("a school admin needs at least one school")
    known = set(
        School.objects.filter(district=district, sis_code__in=codes).values_list("sis_code", flat=True)
    )
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise AdminChangeRejected(f"no school {', '.join(map(repr, unknown))} in {district.name}")
    return codes


# ---- invitations -------------------------------------------------------------------------------------------


def invite_admin(
    district: District,
    email: str,
    role: str,
    *,
    school_codes: list[str] | tuple[str, ...] = (),
    actor: str,
    allow_primary: bool = False,
) -> tuple[AdminInvitation, str]:
    """Invite someone to administer `district`; the e-mailed link sets a password and enrols MFA.

    `allow_primary` is for the platform operator creating a district's first Primary; a district that has a
    Primary changes it only through a validated change request.
    """
    email = email.strip().lower()
    try:
        check_address(email)
    except ValueError as exc:
        raise AdminChangeRejected(str(exc)) from None
    if role == roles.PRIMARY and not allow_primary:
        raise AdminChangeRejected("the Primary admin changes only through a change request to the operator")
    codes = check_role(district, role, school_codes)
    with transaction.atomic():
        if (
            role == roles.PRIMARY
            and AdminMembership.objects.filter(district=district, role=roles.PRIMARY).exists()
        ):
            raise AdminChangeRejected(f"{district.name} already has a Primary admin")
        # By login name or by the e-mail on the login: the operator and logins made before e-mail became the
        # login name carry another username, and inviting their address made a second login for one person.
        members = AdminMembership.objects.filter(district=district)
        if members.filter(Q(user__username=email) | Q(user__email__iexact=email)).exists():
            raise AdminChangeRejected(f"{email} is already an admin of {district.name}")
        now = timezone.now()
        AdminInvitation.objects.filter(
            district=district, email=email, used_at=None, withdrawn_at=None
        ).update(withdrawn_at=now)
        invitation = AdminInvitation.objects.create(
            district=district, email=email, role=role, school_codes=codes, created_by=actor,
            expires_at=now + timedelta(days=INVITATION_DAYS),
        )  # fmt: skip
        token = signing.TimestampSigner(salt=INVITATION_SALT).sign_object({"i": invitation.pk})
        url = settings.SCHOOLGATE_BASE_URL + reverse("console:invitation", kwargs={"token": token})
        enqueue(district, "admin_invitation", email, {
            "role": role_label(role), "invited_by": actor.split(":", 1)[-1], "accept_url": url,
            "expires_in_days": INVITATION_DAYS,
        })  # fmt: skip
        audit.record(
            district, actor, "admin.invited", target_type="admin_invitation", target_id=invitation.pk,
            target_label=email, after={"email": email, "role": role, "schools": codes},
        )  # fmt: skip
        _confirm_to_primary(district, f"{email} was invited as {role_label(role)}.", actor, skip=email)
    return invitation, token


def read_invitation(token: str) -> AdminInvitation:
    """The open invitation the link names, or InvitationInvalid saying why it cannot be used."""
    signer = signing.TimestampSigner(salt=INVITATION_SALT)
    try:
        payload = signer.unsign_object(token, max_age=timedelta(days=INVITATION_DAYS + 1))
    except signing.SignatureExpired:
        raise InvitationInvalid(
            "This invitation has expired. Ask your district's Primary admin for a new one."
        ) from None
    except signing.BadSignature:
        raise InvitationInvalid(
            "This invitation link is not valid. Check that the whole address was copied."
        ) from None
    invitation = AdminInvitation.objects.select_related("district").filter(pk=payload.get("i")).first()
    if invitation is None or invitation.withdrawn_at is not None:
        raise InvitationInvalid("This invitation was withdrawn or replaced by a newer one.")
    if invitation.used_at is not None:
        raise InvitationInvalid("This invitation was already used. Log in instead.")
    if invitation.expires_at <= timezone.now():
        raise InvitationInvalid(
            "This invitation has expired. Ask your district's Primary admin for a new one."
        )
    return invitation


def invited_login(email: str) -> AbstractBaseUser | None:
    """The existing login an invitation to `email` belongs to: the one named by it or, failing that, the one
    whose e-mail it is (the operator and logins made before e-mail became the login name carry another
    username) — the same match `invite_admin` uses, so an invitation it let through lands on that login."""
    user_model = get_user_model()
    return (
        user_model.objects.filter(username=email).first()
        or user_model.objects.filter(email__iexact=email).order_by("pk").first()
    )


def create_admin_login(email: str, password: str) -> AbstractBaseUser:
    """A new admin login (username = e-mail address); ValidationError if the password is too weak."""
    user_model = get_user_model()
    candidate = user_model(username=email, email=email)
    validate_password(password, candidate)
    candidate.set_password(password)
    candidate.save()
    return candidate


def accept_invitation(invitation: AdminInvitation, user: AbstractBaseUser, *, actor: str) -> AdminMembership:
    """Make `user` an admin of the invitation's district, at the invited role. Single use."""
    district = invitation.district
    with transaction.atomic():
        locked = AdminInvitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.used_at is not None or locked.withdrawn_at is not None:
            raise AdminChangeRejected("this invitation was already used or withdrawn")
        if locked.email not in (user.username.lower(), (user.email or "").lower()):
            raise AdminChangeRejected(f"this invitation is for {locked.email}, not for {user.get_username()}")
        try:
            with transaction.atomic():
                membership = AdminMembership.objects.create(
                    user=user, district=district, role=locked.role, school_codes=locked.school_codes,
                    created_by=locked.created_by,
                )  # fmt: skip
        except IntegrityError:
            raise AdminChangeRejected(
                f"{district.name} already has a Primary admin, or you are already one of its admins"
            ) from None
        locked.used_at = timezone.now()
        locked.save(update_fields=["used_at"])
        audit.record(
            district, actor, "admin.added", target_type="admin", target_id=user.pk, target_label=user.get_username(),
            after={"role": locked.role, "schools": locked.school_codes},
        )  # fmt: skip
        _tell_admin(
            district,
            user.email,
            f"You are now an admin of {district.name}: {role_label(locked.role)}.",
            actor,
        )
        _confirm_to_primary(district, f"{user.email} accepted the invitation and is now {role_label(locked.role)}.",
                            actor, skip=user.email)  # fmt: skip
    return membership


# ---- changing and removing ---------------------------------------------------------------------------------


def change_role(
    membership: AdminMembership, role: str, *, school_codes: list[str] | tuple[str, ...] = (), actor: str
) -> AdminMembership:
    """Move an admin to another level (never to or from Primary: that is a change request)."""
    district = membership.district
    if membership.role == roles.PRIMARY or role == roles.PRIMARY:
        raise AdminChangeRejected("the Primary admin changes only through a change request to the operator")
    codes = check_role(district, role, school_codes)
    before = {"role": membership.role, "schools": membership.school_codes}
    with transaction.atomic():
        membership.role, membership.school_codes = role, codes
        membership.save(update_fields=["role", "school_codes"])
        event = audit.record(
            district, actor, "admin.role_changed", target_type="admin", target_id=membership.user_id,
            target_label=membership.user.get_username(), before=before, after={"role": role, "schools": codes},
        )  # fmt: skip
        if event is not None:
            text = f"Your admin level in {district.name} is now {role_label(role)}."
            _tell_admin(district, membership.user.email, text, actor)
            _confirm_to_primary(district, f"{membership.user.email} is now {role_label(role)}.", actor)
    return membership


def remove_admin(membership: AdminMembership, *, actor: str) -> None:
    """Remove an admin from the district: their tokens for it stop working and the district refuses them,
    at once. Their console sessions end too, unless they still administer another district (or operate the
    platform): a console session is one login for all their districts, every request is authorized against
    the memberships of that moment, so ending it would only log them out of the districts they keep."""
    district, user = membership.district, membership.user
    if membership.role == roles.PRIMARY:
        raise AdminChangeRejected(
            "the Primary admin cannot be removed; ask the operator to change the Primary first"
        )
    with transaction.atomic():
        membership.delete()
        revoked = ApiToken.objects.filter(district=district, user=user, revoked_at=None).update(
            revoked_at=timezone.now()
        )
        keeps_console = user.is_superuser or AdminMembership.objects.filter(user=user).exists()
        ended = 0 if keeps_console else end_sessions(user)
        audit.record(
            district, actor, "admin.removed", target_type="admin", target_id=user.pk,
            target_label=user.get_username(),
            before={"role": membership.role}, after={"sessions_ended": ended, "tokens_revoked": revoked},
        )  # fmt: skip
        _tell_admin(district, user.email, f"You are no longer an admin of {district.name}.", actor)
        _confirm_to_primary(district, f"{user.email} is no longer an admin.", actor)


def end_sessions(user: AbstractBaseUser) -> int:
    """Delete every console session of `user` (they log in again, and see only what they still may)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = list(AdminSession.objects.filter(user=user).values_list("session_key", flat=True))
    for key in keys:
        store(session_key=key).delete()
    AdminSession.objects.filter(user=user).delete()
    return len(keys)


# ---- the Primary -------------------------------------------------------------------------------------------


def request_primary_change(
    district: District, requested_by: AbstractBaseUser, new_primary_email: str, reason: str, *, actor: str
) -> PrimaryChangeRequest:
    """Ask the platform operator to make `new_primary_email` the Primary. Nothing changes until validated."""
    email = new_primary_email.strip().lower()
    if not reason.strip():
        raise AdminChangeRejected("say why the Primary should change (the operator reads this)")
    new_user = get_user_model().objects.filter(username=email).first()
    if new_user is None:
        raise AdminChangeRejected(f"{email} has no admin login yet: invite them as an admin first")
    if AdminMembership.objects.filter(district=district, user=new_user, role=roles.PRIMARY).exists():
        raise AdminChangeRejected(f"{email} is already the Primary admin of {district.name}")
    with transaction.atomic():
        if PrimaryChangeRequest.objects.filter(district=district, status=RequestStatus.PENDING).exists():
            raise AdminChangeRejected("a change of Primary is already waiting for the operator")
        request = PrimaryChangeRequest.objects.create(
            district=district, requested_by=requested_by.get_username(), new_primary_email=email,
            reason=reason.strip(),
        )  # fmt: skip
        audit.record(
            district, actor, "primary.change_requested", target_type="primary_change", target_id=request.pk,
            target_label=email, after={"new_primary": email, "reason": request.reason},
        )  # fmt: skip
        _notify_both(
            request, requested_by.email, "was sent to the platform operator, who will validate it", actor
        )
    return request


def decide_primary_change(
    request: PrimaryChangeRequest, *, approve: bool, actor: str, note: str = ""
) -> PrimaryChangeRequest:
    """The platform operator validates or rejects a change of Primary; validating swaps both memberships."""
    district = request.district
    with transaction.atomic():
        # The district row is the lock that serialises every change of its Primary.
        District.objects.select_for_update().filter(pk=district.pk).first()
        request = PrimaryChangeRequest.objects.select_for_update().get(pk=request.pk)
        if request.status != RequestStatus.PENDING:
            raise AdminChangeRejected(f"this request was already {request.get_status_display().lower()}")
        new_user = get_user_model().objects.filter(username=request.new_primary_email).first()
        if approve and new_user is None:
            raise AdminChangeRejected(f"{request.new_primary_email} no longer has an admin login")
        before = list(
            AdminMembership.objects.filter(district=district, role=roles.PRIMARY).values_list(
                "user__username", flat=True
            )
        )
        if approve:
            # Old Primary first becomes Support, then the new one is promoted: the unique constraint holds at
            # every statement, and the two writes commit together.
            AdminMembership.objects.filter(district=district, role=roles.PRIMARY).update(
                role=roles.SUPPORT_ROLE
            )
            AdminMembership.objects.update_or_create(
                user=new_user, district=district,
                defaults={"role": roles.PRIMARY, "school_codes": []}, create_defaults={
                    "role": roles.PRIMARY, "school_codes": [], "created_by": actor},
            )  # fmt: skip
        request.status = RequestStatus.APPROVED if approve else RequestStatus.REJECTED
        request.decided_by, request.decided_at, request.decision_note = actor, timezone.now(), note.strip()
        request.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        audit.record(
            district, actor, "primary.changed" if approve else "primary.change_rejected",
            target_type="primary_change", target_id=request.pk, target_label=request.new_primary_email,
            before={"primary": before},
            after={"primary": [request.new_primary_email] if approve else before, "note": request.decision_note},
        )  # fmt: skip
        requester = get_user_model().objects.filter(username=request.requested_by).first()
        outcome = "was validated: the Primary has changed" if approve else "was rejected: nothing changed"
        _notify_both(request, requester.email if requester else "", outcome, actor)
    return request


# ---- e-mails -----------------------------------------------------------------------------------------------


def primary_of(district: District) -> Any:
    membership = (
        AdminMembership.objects.select_related("user").filter(district=district, role=roles.PRIMARY).first()
    )
    return membership.user if membership else None


def _tell_admin(district: District, email: str, change: str, actor: str) -> None:
    if email:
        enqueue(
            district, "admin_access_changed", email, {"change": change, "changed_by": actor.split(":", 1)[-1]}
        )


def _confirm_to_primary(district: District, change: str, actor: str, *, skip: str = "") -> None:
    primary = primary_of(district)
    if primary is not None and primary.email and primary.email != skip:
        enqueue(district, "admin_change_confirmation", primary.email,
                {"change": change, "changed_by": actor.split(":", 1)[-1]})  # fmt: skip


def _notify_both(request: PrimaryChangeRequest, requester_email: str, outcome: str, actor: str) -> None:
    context = {"new_primary": request.new_primary_email, "requested_by": request.requested_by,
               "reason": request.reason, "outcome": outcome, "note": request.decision_note}  # fmt: skip
    for email in dict.fromkeys(e for e in (requester_email, request.new_primary_email) if e):
        enqueue(request.district, "primary_change", email, context)
