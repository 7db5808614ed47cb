"""The person page ("student information pane"): links, flags and the rules that set them, overrides, sections."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from schoolgate.accounts.overrides import OverrideRejected, remove_override, set_override
from schoolgate.accounts.person_view import UnknownPerson, describe_person
from schoolgate.accounts.transfer import TransferRejected, transfer_login
from schoolgate.admins import roles
from schoolgate.console.access import actor_of, admin_view, require_people, scope_of
from schoolgate.people.models import Override, OverrideField, Person, display_name


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
    return render(request, "console/person.html", {"data": data, "code": code, "fields": OverrideField.values,
                                                   "error": error}, status=400 if error else 200)  # fmt: skip


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
            remove_override(request.district, int(request.POST["remove"]), actor=actor_of(request))
        else:
            until = request.POST.get("until") or None
            expires = (
                timezone.make_aware(datetime.combine(datetime.strptime(until, "%Y-%m-%d").date(), time.max))
                if until
                else None
            )
            contact, student = request.POST.get("contact", ""), request.POST.get("student", "")
            set_override(
                request.district, contact=contact, student=student, field=request.POST.get("field", ""),
                value=request.POST.get("value") == "on", reason=request.POST.get("reason", ""),
                expires_at=expires, actor=actor_of(request),
            )  # fmt: skip
    except (OverrideRejected, ValueError, KeyError) as exc:
        return person.__wrapped__(request, code, error=str(exc))
    return redirect("console:person", slug=request.district.slug, code=code)


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
