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
)
from schoolgate.admins.models import AdminInvitation, AdminMembership, PrimaryChangeRequest
from schoolgate.console.access import actor_of, admin_view
from schoolgate.core.models import School


def _page(request: HttpRequest, error: str = "", status: int = 200) -> HttpResponse:
    district = request.district
    service_levels = authz.service_levels(district).order_by("name")
    choices = [(key, name) for key, name in roles.ROLE_NAMES.items() if key != roles.PRIMARY]
    choices += [(roles.SERVICE_PREFIX + s.key, s.name) for s in service_levels]
    context = {
        "members": AdminMembership.objects.filter(district=district).select_related("user").order_by("user__username"),
        "invitations": AdminInvitation.objects.filter(district=district, used_at=None, withdrawn_at=None)
        .order_by("-created_at"),
        "requests": PrimaryChangeRequest.objects.filter(district=district)[:10],
        "role_choices": choices,
        "role_names": dict(choices) | {roles.PRIMARY: roles.ROLE_NAMES[roles.PRIMARY]},
        "schools": School.objects.filter(district=district, org_type="school").order_by("name")
        .values_list("sis_code", "name"),
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
            change_role(
                _membership(request), post.get("role", ""), school_codes=post.getlist("schools"), actor=actor
            )
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
