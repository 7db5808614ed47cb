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
from schoolgate.accounts.transfer import HOLDS_CREDENTIALS, TransferRejected, transfer_login
from schoolgate.admins import roles
from schoolgate.console.access import actor_of, admin_view, require_people, scope_of
from schoolgate.core.numbers import whole_number
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


# The Set override form as a first visit shows it; a refused override comes back as the admin sent it.
OVERRIDE_FORM = {"contact": "", "student": "", "field": OverrideField.PORTAL, "value": "on", "reason": "",
                 "until": ""}  # fmt: skip
UNTIL_UNREADABLE = "Until must be a date such as 2027-06-30."


def _person_page(
    request: HttpRequest,
    code: str,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> HttpResponse:
    """The person page; after a refused form, that form as the admin sent it with what is wrong beside it.

    `errors` is keyed by form field ("field", "reason", "until", "link" for the contact or student picked,
    "to" for the transfer), or "page" for a refusal no field of a form can be blamed for.
    """
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
    errors = errors or {}
    # Only a login that still holds credentials can be transferred (the rule transfer_login applies).
    offers_transfer = data["account"] is not None and data["account"]["state"] in HOLDS_CREDENTIALS
    context = {
        "data": data, "code": code, "fields": OverrideField.values, "share_sections": SHARE_SECTIONS,
        "form": {**OVERRIDE_FORM, "to": "", **(form or {})}, "errors": errors,
        "offers_transfer": offers_transfer,
        # A transfer refused once the form is gone (the login moved meanwhile) is said at the top instead.
        "error": errors.get("page") or ("" if offers_transfer else errors.get("to", "")),
    }  # fmt: skip
    return render(request, "console/person.html", context, status=400 if errors else 200)


@admin_view(roles.VIEW_ACCOUNTS)
def person(request: HttpRequest, code: str) -> HttpResponse:
    return _person_page(request, code)


@admin_view(roles.EDIT_PEOPLE)
@require_http_methods(["POST"])
def override(request: HttpRequest, code: str) -> HttpResponse:
    require_people(request, request.POST.get("contact", ""), request.POST.get("student", ""))
    if request.POST.get("remove"):
        return _remove_override(request, code)
    form = {key: request.POST.get(key, "") for key in OVERRIDE_FORM}
    try:
        expires = _end_of_day(form["until"].strip())
    except ValueError:
        return _person_page(request, code, form=form, errors={"until": UNTIL_UNREADABLE})
    try:
        changed = set_override(
            request.district, contact=form["contact"], student=form["student"], field=form["field"],
            value=form["value"] == "on", reason=form["reason"], expires_at=expires, actor=actor_of(request),
        )  # fmt: skip
    except OverrideRejected as exc:
        return _person_page(request, code, form=form, errors={exc.about or "link": str(exc)})
    _say_if_name_only(request, changed.link_id)
    return redirect("console:person", slug=request.district.slug, code=code)


def _end_of_day(until: str) -> datetime | None:
    """The end of the day the Until field names (YYYY-MM-DD, as a date input sends it), or None when empty;
    ValueError when it is not such a date."""
    if not until:
        return None
    return timezone.make_aware(datetime.combine(datetime.strptime(until, "%Y-%m-%d").date(), time.max))


def _remove_override(request: HttpRequest, code: str) -> HttpResponse:
    """The Remove button beside an override in force: hand its field back to the rules."""
    # The id comes from a form anyone can edit: one that is not a number names no override.
    override_id = whole_number(request.POST["remove"])
    if override_id is None:
        return _person_page(request, code, errors={"page": "That override was not found: reload the page."})
    link = Override.objects.filter(district=request.district, pk=override_id).values_list(
        "link__contact__sis_code", "link__student__sis_code"
    )
    require_people(request, *(link.first() or ()))
    try:
        changed = remove_override(request.district, override_id, actor=actor_of(request))
    except OverrideRejected as exc:
        return _person_page(request, code, errors={"page": str(exc)})
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
    to = request.POST.get("to", "").strip()
    require_people(request, to)
    try:
        same = request.POST.get("same_person") == "yes"
        transfer_login(request.district, code, to, actor=actor_of(request), same_person=same)
    except TransferRejected as exc:
        return _person_page(request, code, form={"to": to}, errors={"to": str(exc)})
    return redirect("console:person", slug=request.district.slug, code=to)
