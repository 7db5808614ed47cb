"""The person page ("student information pane"): links, flags and the rules that set them, overrides, sections."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from schoolgate.accounts.overrides import OverrideRejected, remove_override, set_override
from schoolgate.accounts.person_view import UnknownPerson, describe_person
from schoolgate.accounts.transfer import TransferRejected, transfer_login
from schoolgate.admins import roles
from schoolgate.console.access import actor_of, admin_view, require_people, scope_of
from schoolgate.people.models import SECTIONS, Link, Override, OverrideField, Person, display_name

# How an admin shares sections on a link whose rules grant none (a relative forced on): the sections in force
# are the allowing rule's, and rules are not edited from the console, so it is one override per section, on.
SHARE_SECTIONS = (
    f"set an override on this page with the field {', '.join(SECTIONS[:-1])} or {SECTIONS[-1]} "
    "and the value on, one for each section to share"
)


def names_of(request: HttpRequest, codes: Iterable[str]) -> dict[str, str]:
    """Display names, by SIS code, of the people named in `codes`: one query, scoped to the district.

    Pages list people by code; a name beside it is what an admin recognises. Left out, so that the page shows
    the code alone: people outside a school admin's schools (a name is more than the code they already see)
    and people the SIS gives no name.
    """
    wanted = set(codes)
    if not wanted:
        return {}
    scope = scope_of(request)
    people = Person.objects.filter(district=request.district) if scope is None else scope
    rows = people.filter(district=request.district, sis_code__in=wanted).values_list(
        "sis_code", "preferred_given_name", "given_name", "family_name"
    )
    names = {code: display_name(preferred, given, family, code) for code, preferred, given, family in rows}
    return {code: name for code, name in names.items() if name != code}


@admin_view(roles.VIEW_ACCOUNTS)
def person(request: HttpRequest, code: str, error: str = "") -> HttpResponse:
    # `code` is in the admin's scope: admin_view checked every object the URL names.
    try:
        data = describe_person(request.district, code)
    except UnknownPerson:
        raise Http404(f"no person {code}") from None
    # Each link names the person at its other end by code only: add the name the admin knows them by.
    names = names_of(request, [link.get("contact") or link.get("student") for link in data["links"]])
    for link in data["links"]:
        link["name"] = names.get(link.get("contact") or link.get("student"))
        # A portal flag with no section in force (an override on a link the rules refuse) gives the contact a
        # portal that shows the student's name and nothing else: the page says so beside the link.
        link["name_only"] = link["portal_flag"] and not link["sections"]
    return render(request, "console/person.html", {"data": data, "code": code, "fields": OverrideField.values,
                                                   "share_sections": SHARE_SECTIONS, "error": error},
                  status=400 if error else 200)  # fmt: skip


@admin_view(roles.EDIT_PEOPLE)
@require_http_methods(["POST"])
def override(request: HttpRequest, code: str) -> HttpResponse:
    require_people(request, request.POST.get("contact", ""), request.POST.get("student", ""))
    try:
        if request.POST.get("remove"):
            link = Override.objects.filter(
                district=request.district, pk=int(request.POST["remove"])
            ).values_list("link__contact__sis_code", "link__student__sis_code")
            require_people(request, *(link.first() or ()))
            changed = remove_override(request.district, int(request.POST["remove"]), actor=actor_of(request))
        else:
            until = request.POST.get("until") or None
            expires = (
                timezone.make_aware(datetime.combine(datetime.strptime(until, "%Y-%m-%d").date(), time.max))
                if until
                else None
            )
            contact, student = request.POST.get("contact", ""), request.POST.get("student", "")
            changed = set_override(
                request.district, contact=contact, student=student, field=request.POST.get("field", ""),
                value=request.POST.get("value") == "on", reason=request.POST.get("reason", ""),
                expires_at=expires, actor=actor_of(request),
            )  # fmt: skip
    except (OverrideRejected, ValueError, KeyError) as exc:
        return person.__wrapped__(request, code, error=str(exc))
    _say_if_name_only(request, changed.link_id)
    return redirect("console:person", slug=request.district.slug, code=code)


def _say_if_name_only(request: HttpRequest, link_id: int) -> None:
    """After an override, tell the admin when the link is left with the portal on and no section in force.

    The override does what it was asked (a relative forced on keeps the rules' empty sections), but the contact
    would then log in to a portal that only names the student; the admin should know, and how to share more.
    Said once, on the page the form returns to; the page itself says it beside the link while it holds.
    """
    state = (
        Link.objects.filter(district=request.district, pk=link_id)
        .values_list("portal_flag", "permissions", "contact__sis_code", "student__sis_code")
        .first()
    )
    if state is None:
        return
    portal_flag, permissions, contact, student = state
    if not portal_flag or permissions:
        return
    names = names_of(request, [contact, student])
    contact_name, student_name = names.get(contact, contact), names.get(student, student)
    messages.warning(
        request,
        f"Portal access for {contact_name} → {student_name} is on, but no sections are shared: {contact_name} "
        f"will see {student_name}'s name and nothing else until sections are shared. To share one, "
        f"{SHARE_SECTIONS}.",
    )


@admin_view(roles.ACT_ACCOUNTS)
@require_http_methods(["POST"])
def transfer(request: HttpRequest, code: str) -> HttpResponse:
    """Carry this person's login over to the record that succeeds it."""
    require_people(request, request.POST.get("to", "").strip())
    try:
        transfer_login(request.district, code, request.POST.get("to", "").strip(), actor=actor_of(request))
    except TransferRejected as exc:
        return person.__wrapped__(request, code, error=str(exc))
    return redirect("console:person", slug=request.district.slug, code=request.POST["to"].strip())
