"""The district's admins: who they are, and (for the Primary) invite, change level, remove, and ask the
operator to change the Primary. Each action is one call into `schoolgate.admins.delegation`."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from schoolgate.admins import authz, roles
from schoolgate.admins.delegation import (
    AdminChangeRejected,
    change_role,
    invite_admin,
    remove_admin,
    request_primary_change,
    role_label,
)
from schoolgate.admins.models import AdminInvitation, AdminMembership, PrimaryChangeRequest
from schoolgate.console.access import actor_of, admin_view
from schoolgate.core.models import School


def _page(request: HttpRequest, error: str = "", status: int = 200) -> HttpResponse:
    district = request.district
    service_levels = authz.service_levels(district).order_by("name")
    choices = [(key, name) for key, name in roles.ROLE_NAMES.items() if key != roles.PRIMARY]
    choices += [(roles.SERVICE_PREFIX + s.key, s.name) for s in service_levels]
    # The labels the level select shows, for every role on the page; a service level removed since it was
    # given falls back to its key (as the e-mails name it).
    labels = dict(choices) | {roles.PRIMARY: roles.ROLE_NAMES[roles.PRIMARY]}
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
    }  # fmt: skip
    return render(request, "console/admins.html", context, status=status)


@admin_view(None)
def admins(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _membership(request: HttpRequest) -> AdminMembership:
    # The id comes from a form anyone can edit: one that is not a number names no admin, like an unknown one
    # (filtering on it as is raises ValueError, a 500).
    raw = request.POST.get("membership", "")
    found = None
    if raw.isascii() and raw.isdigit():
        found = (
            AdminMembership.objects.filter(district=request.district, pk=int(raw))
            .select_related("user", "district")
            .first()
        )
    if found is None:
        raise Http404("no such admin in this district")
    return found


@admin_view(roles.MANAGE_ADMINS)
@require_http_methods(["POST"])
def manage(request: HttpRequest) -> HttpResponse:
    """Invite, change level, remove, or request a new Primary."""
    action, post, actor = request.POST.get("action", ""), request.POST, actor_of(request)
    try:
        if action == "invite":
            invite_admin(request.district, post.get("email", ""), post.get("role", ""),
                         school_codes=post.getlist("schools"), actor=actor)  # fmt: skip
        elif action == "change":
            # The row's school picker is always in the form (no script needed) and preselected with the admin's
            # schools, so it is read only for School admin: moving a school admin to another level must not
            # be refused for the schools the form still carries.
            role = post.get("role", "")
            schools = post.getlist("schools") if role == roles.SCHOOL_ADMIN else []
            change_role(_membership(request), role, school_codes=schools, actor=actor)
        elif action == "remove":
            remove_admin(_membership(request), actor=actor)
        elif action == "primary":
            request_primary_change(request.district, request.user, post.get("email", ""), post.get("reason", ""),
                                   actor=actor)  # fmt: skip
        else:
            raise AdminChangeRejected("choose what to do")
    except AdminChangeRejected as exc:
        return _page(request, str(exc), status=400)
    return redirect("console:admins", slug=request.district.slug)
