"""People mirrored from the SIS, their links (student ↔ contact) with the access decided per student, and
admin overrides of that access."""

from __future__ import annotations

from datetime import datetime, time

from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Status

from schoolgate.accounts.overrides import remove_override, set_override
from schoolgate.accounts.person_view import describe_person
from schoolgate.accounts.queries import visible_students
from schoolgate.admins import roles
from schoolgate.api.auth import needs, people_in_scope, require_people
from schoolgate.api.errors import ERROR_STATUSES, ErrorOut
from schoolgate.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageInfo, decode, page
from schoolgate.api.schemas import (
    Kind,
    LinkRow,
    LinksPage,
    OverrideIn,
    OverrideSet,
    PeoplePage,
    PersonLink,
    PersonOut,
    PersonRow,
)
from schoolgate.people.models import Link, PersonKind, sections_of

router = Router(tags=["people"])
Limit = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="rows per page")


@router.get("/people", response={200: PeoplePage, ERROR_STATUSES: ErrorOut}, **needs(roles.VIEW_ACCOUNTS))
def list_people(
    request: HttpRequest,
    kind: Kind | None = None,
    q: str | None = Query(
        None, max_length=320, description="a SIS code, an e-mail, or the start of a family name"
    ),
    cursor: str | None = Query(None, max_length=2000),
    limit: int = Limit,
) -> PeoplePage:
    """People of the district in SIS-code order, one page at a time."""
    people = people_in_scope(request).order_by("sis_code")
    if kind:
        people = people.filter(kind=kind)
    if q and q.strip():
        q = q.strip()
        people = people.filter(Q(sis_code=q) | Q(email__iexact=q) | Q(family_name__istartswith=q))
    after = decode("people", cursor)
    if after:
        people = people.filter(sis_code__gt=str(after[0]))
    rows = list(people.values("pk", "sis_code", "kind", "given_name", "family_name", "email", "enabled",
                              "in_sis", "account__state")[: limit + 1])  # fmt: skip
    shown, following = page(rows, limit, "people", lambda r: [r["sis_code"]])
    return PeoplePage(
        items=[
            PersonRow(
                code=r["sis_code"],
                kind=r["kind"],
                name=f"{r['given_name']} {r['family_name']}".strip(),
                email=r["email"],
                enabled=r["enabled"],
                in_sis=r["in_sis"],
                account_state=r["account__state"],
            )
            for r in shown
        ],
        page=PageInfo(next=following, limit=limit),
    )


@router.get(
    "/people/{code}", response={200: PersonOut, ERROR_STATUSES: ErrorOut}, **needs(roles.VIEW_ACCOUNTS)
)
def get_person(request: HttpRequest, code: str) -> PersonOut:
    """One person: details, login, and every link with its flag, deciding rule, sections and overrides."""
    data = describe_person(request.district, code)
    as_student = data["person"]["kind"] == PersonKind.STUDENT
    links = [
        PersonLink(student=code if as_student else link["student"],
                   contact=link["contact"] if as_student else code, **{
                       k: v for k, v in link.items() if k not in ("student", "contact")})
        for link in data["links"]
    ]  # fmt: skip
    visible: list[str] = []
    if not as_student:
        person_id = people_in_scope(request).filter(sis_code=code).values_list("pk", flat=True).first()
        visible = visible_students(request.district, [person_id]).get(person_id, [])
    return PersonOut(person=data["person"], account=data["account"], links=links, visible_students=visible)


@router.get("/links", response={200: LinksPage, ERROR_STATUSES: ErrorOut}, **needs(roles.VIEW_ACCOUNTS))
def list_links(
    request: HttpRequest,
    contact: str | None = Query(None, max_length=255, description="only this contact's links"),
    student: str | None = Query(None, max_length=255, description="only this student's links"),
    portal_flag: bool | None = Query(None, description="only links whose flag in force is on (or off)"),
    cursor: str | None = Query(None, max_length=2000),
    limit: int = Limit,
) -> LinksPage:
    """Student ↔ contact links with the decision in force, one page at a time."""
    require_people(request, contact or "", student or "")
    links = Link.objects.filter(district=request.district).order_by("pk")
    if request.access.school_limited:
        scope = people_in_scope(request).values("pk")
        links = links.filter(student__in=scope, contact__in=scope)
    if contact:
        links = links.filter(contact__sis_code=contact)
    if student:
        links = links.filter(student__sis_code=student)
    if portal_flag is not None:
        links = links.filter(portal_flag=portal_flag)
    after = decode("links", cursor)
    if after:
        links = links.filter(pk__gt=int(after[0]))
    rows = list(links.select_related("student", "contact")[: limit + 1])
    shown, following = page(rows, limit, "links", lambda link: [link.pk])
    return LinksPage(
        items=[
            LinkRow(
                student=link.student.sis_code,
                contact=link.contact.sis_code,
                relationship=link.relationship,
                in_sis=link.in_sis,
                portal_flag=link.portal_flag,
                rule_flag=link.rule_flag,
                flag_rule=link.flag_rule,
                sections=sections_of(link.permissions) if link.portal_flag else [],
            )
            for link in shown
        ],
        page=PageInfo(next=following, limit=limit),
    )


def _override_out(override: object) -> OverrideSet:
    return OverrideSet(
        id=override.pk, contact=override.link.contact.sis_code, student=override.link.student.sis_code,
        field=override.field, value=override.value, reason=override.reason, expires_at=override.expires_at,
    )  # fmt: skip


@router.post("/overrides", response={201: OverrideSet, ERROR_STATUSES: ErrorOut}, **needs(roles.EDIT_PEOPLE))
def create_override(request: HttpRequest, payload: OverrideIn) -> Status[OverrideSet]:
    """Force the portal flag or one section of a contact → student link on or off, with a reason (audited;
    every later sync keeps it). Replaces an override of the same field already in force."""
    require_people(request, payload.contact, payload.student)
    expires = (
        timezone.make_aware(datetime.combine(payload.until, time.max)) if payload.until is not None else None
    )
    override = set_override(
        request.district, contact=payload.contact, student=payload.student, field=payload.field,
        value=payload.value, reason=payload.reason, expires_at=expires, actor=request.actor,
    )  # fmt: skip
    return Status(201, _override_out(override))


@router.delete("/overrides/{override_id}", response={200: OverrideSet, ERROR_STATUSES: ErrorOut},
               **needs(roles.EDIT_PEOPLE))  # fmt: skip
def delete_override(request: HttpRequest, override_id: int) -> OverrideSet:
    """Hand the field back to the eligibility rules (audited)."""
    return _override_out(remove_override(request.district, override_id, actor=request.actor))
