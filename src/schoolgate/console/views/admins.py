"""The district's admins: who they are, and (for the Primary) invite, change level, remove, and ask the
operator to change the Primary. Each action is one call into `schoolgate.admins.delegation`.

A refused invitation or change of Primary comes back as the admin sent it, with what is wrong beside the field
it is about; removing an admin is asked again, naming them, before anything happens."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from schoolgate.admins import authz, roles
from schoolgate.admins.delegation import (
    AdminChangeRejected,
    change_role,
    check_role,
    invite_admin,
    remove_admin,
    request_primary_change,
    role_label,
)
from schoolgate.admins.models import AdminInvitation, AdminMembership, PrimaryChangeRequest
from schoolgate.console.access import actor_of, admin_view
from schoolgate.core.models import District, School
from schoolgate.core.numbers import whole_number
from schoolgate.mail.outbox import check_address

# The Invite an admin and Change the Primary forms as a first visit shows them (no level chosen: the select
# shows its first).
INVITE_FORM: dict[str, Any] = {"email": "", "role": "", "schools": []}
PRIMARY_FORM = {"email": "", "reason": ""}


def _levels(district: District) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The levels an admin can be given here (key, name), and the names of the levels pages show, the
    Primary's too; a service level removed since it was given is not there (callers fall back to its key, as
    the e-mails name it)."""
    service_levels = authz.service_levels(district).order_by("name")
    choices = [(key, name) for key, name in roles.ROLE_NAMES.items() if key != roles.PRIMARY]
    choices += [(roles.SERVICE_PREFIX + s.key, s.name) for s in service_levels]
    return choices, dict(choices) | {roles.PRIMARY: roles.ROLE_NAMES[roles.PRIMARY]}


def _page(
    request: HttpRequest,
    error: str = "",
    status: int = 200,
    *,
    invite: dict[str, Any] | None = None,
    primary: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> HttpResponse:
    """The page; `error` is a refused change of an admin's row (said at the top), `errors` a refused form's,
    keyed by field ("email", "role", "schools"; "primary_reason", or "primary" for the Primary form)."""
    district = request.district
    choices, labels = _levels(district)
    members = list(
        AdminMembership.objects.filter(district=district).select_related("user").order_by("user__username")
    )
    invitations = list(
        AdminInvitation.objects.filter(district=district, used_at=None, withdrawn_at=None).order_by(
            "-created_at"
        )
    )
    # One query names every school on the page; a code with no named school here shows as the code.
    codes = {code for row in (*members, *invitations) for code in row.school_codes}
    names = dict(School.objects.filter(district=district, sis_code__in=codes).values_list("sis_code", "name"))
    context = {
        "members": [(m, labels.get(m.role) or role_label(m.role), [names.get(c) or c for c in m.school_codes])
                    for m in members],
        "invitations": [(i, labels.get(i.role) or role_label(i.role), [names.get(c) or c for c in i.school_codes])
                        for i in invitations],
        "requests": PrimaryChangeRequest.objects.filter(district=district)[:10],
        "role_choices": choices,
        # A list, not a queryset: every admin's row offers these schools, from one query.
        "schools": list(School.objects.filter(district=district, org_type="school").order_by("name")
                        .values_list("sis_code", "name")),
        "error": error,
        "invite": invite or INVITE_FORM,
        "primary": primary or PRIMARY_FORM,
        "errors": errors or {},
    }  # fmt: skip
    return render(request, "console/admins.html", context, status=status)


@admin_view(None)
def admins(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _membership(request: HttpRequest) -> AdminMembership:
    # The id comes from a form anyone can edit: one that is not a number names no admin, like an unknown one
    # (filtering on it as is raises ValueError, a 500).
    membership_id = whole_number(request.POST.get("membership", ""))
    found = None
    if membership_id is not None:
        found = (
            AdminMembership.objects.filter(district=request.district, pk=membership_id)
            .select_related("user", "district")
            .first()
        )
    if found is None:
        raise Http404("no such admin in this district")
    return found


@admin_view(roles.MANAGE_ADMINS)
@require_http_methods(["POST"])
def manage(request: HttpRequest) -> HttpResponse:
    """Invite, change level, remove (once confirmed), or request a new Primary."""
    action, post, actor = request.POST.get("action", ""), request.POST, actor_of(request)
    if action == "invite":
        return _invite(request)
    if action == "primary":
        return _request_primary(request)
    try:
        if action == "change":
            # The row's school picker is always in the form (no script needed) and preselected with the admin's
            # schools, so it is read only for School admin: moving a school admin to another level must not
            # be refused for the schools the form still carries.
            role = post.get("role", "")
            schools = post.getlist("schools") if role == roles.SCHOOL_ADMIN else []
            change_role(_membership(request), role, school_codes=schools, actor=actor)
        elif action == "remove":
            membership = _membership(request)
            # The Remove button sits beside Change level: one slip would end someone's access, so it is asked
            # again, naming them. The Primary, whom removal refuses, is refused at once rather than after that.
            if post.get("confirmed") != "yes" and membership.role != roles.PRIMARY:
                return _confirm_removal(request, membership)
            remove_admin(membership, actor=actor)
        else:
            raise AdminChangeRejected("choose what to do")
    except AdminChangeRejected as exc:
        return _page(request, str(exc), status=400)
    return redirect("console:admins", slug=request.district.slug)


def _confirm_removal(request: HttpRequest, membership: AdminMembership) -> HttpResponse:
    """The question before removing an admin: who, at which level, and what removal does."""
    _, labels = _levels(request.district)
    schools = dict(
        School.objects.filter(district=request.district, sis_code__in=membership.school_codes).values_list(
            "sis_code", "name"
        )
    )
    return render(request, "console/admin_remove.html", {
        "membership": membership,
        "level": labels.get(membership.role) or role_label(membership.role),
        "school_names": [schools.get(code) or code for code in membership.school_codes],
    })  # fmt: skip


def _invite(request: HttpRequest) -> HttpResponse:
    """Send an invitation; or the page again with the form as sent and what is wrong beside its field."""
    post = request.POST
    form = {"email": post.get("email", "").strip(), "role": post.get("role", ""),
            "schools": post.getlist("schools")}  # fmt: skip
    try:
        invite_admin(request.district, form["email"], form["role"], school_codes=form["schools"],
                     actor=actor_of(request))  # fmt: skip
    except AdminChangeRejected as exc:
        return _page(request, status=400, invite=form, errors={_invite_field(request, form): str(exc)})
    return redirect("console:admins", slug=request.district.slug)


def _invite_field(request: HttpRequest, form: dict[str, Any]) -> str:
    """The field a refused invitation is about, asked in the order invite_admin checks: the address, the
    level, the level's schools; what is left (already an admin here) is about the address again."""
    try:
        check_address(form["email"].lower())
    except ValueError:
        return "email"
    choices, _ = _levels(request.district)
    if form["role"] not in dict(choices):
        return "role"
    try:
        check_role(request.district, form["role"], form["schools"])
    except AdminChangeRejected:
        return "schools"
    return "email"


def _request_primary(request: HttpRequest) -> HttpResponse:
    """Ask the operator for a new Primary; or the page again with the form as sent, saying why not."""
    form = {key: request.POST.get(key, "") for key in PRIMARY_FORM}
    try:
        request_primary_change(request.district, request.user, form["email"], form["reason"],
                               actor=actor_of(request))  # fmt: skip
    except AdminChangeRejected as exc:
        # Only a missing reason is one field's fault; the rest (who the new Primary would be, a request
        # already waiting) is said above the form.
        field = "primary_reason" if not form["reason"].strip() else "primary"
        return _page(request, status=400, primary=form, errors={field: str(exc)})
    return redirect("console:admins", slug=request.district.slug)
