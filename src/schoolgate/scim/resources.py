"""Users and Groups of one district, read from the database and written through the domain.

A **User** is an account (its id is the account's id) with the SIS person it belongs to. `active` is true
while the account is `invited` or `active` (the person holds a usable login or welcome link) and false
otherwise (`ready_to_provision`, `ready_to_revoke`, `revoked`). Writes never touch lifecycle fields:

* active → false revokes (`lifecycle.revoke_account`) an invited, active or ready_to_revoke account;
* active → true provisions (`lifecycle.provision_account`) a ready_to_provision account; a revoked or
  ready_to_revoke account cannot be turned back on from SCIM (the SIS rules decide: reinstate/restore);
* POST asks for the account of an **existing** SIS person (userName = their SIS code): the person is
  reconciled (`reconcile.reconcile_people`), which lists them `ready_to_provision` if the district's rules
  make them eligible; people themselves come only from the SIS;
* DELETE withdraws a never-credentialed account or revokes a credentialed one, then hides it from SCIM
  (revoked accounts stay as Schoolgate history).

A **Group** is a school (members: accounts of its people) or a kind of person; groups are read-only.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from scim2_models import (
    Context,
    InvalidValueException,
    Meta,
    MutabilityException,
    NotFoundException,
    UniquenessException,
)

from schoolgate.accounts import lifecycle, reconcile
from schoolgate.accounts.models import CREDENTIAL_STATES, Account, AccountState
from schoolgate.accounts.moves import select_accounts
from schoolgate.accounts.queries import visible_links
from schoolgate.admins.authz import Access, people_in_scope
from schoolgate.core.models import District, School
from schoolgate.core.numbers import whole_number
from schoolgate.people.models import Membership, Person, PersonKind, sections_of
from schoolgate.scim import schemas as s
from schoolgate.scim.models import ScimAccount

S = AccountState
ACTIVE_STATES = (S.INVITED, S.ACTIVE)
KIND_NAMES = {PersonKind.STUDENT: "Students", PersonKind.CONTACT: "Guardians", PersonKind.STAFF: "Staff"}


def version_of(payload: dict[str, Any]) -> str:
    """A weak ETag over the resource's content (meta excluded), so it changes exactly when the content does."""
    body = {k: v for k, v in payload.items() if k != "meta"}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:20]
    return f'W/"{digest}"'


def _finish(resource: Any, resource_type: str, location: str, created: Any, modified: Any) -> Any:
    resource.meta = Meta(
        resource_type=resource_type, location=location, created=created, last_modified=modified
    )
    payload = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    resource.meta.version = version_of(payload)
    return resource


# ---------------------------------------------------------------------------------------------- Users (read)


def user_queryset(access: Access) -> QuerySet[Account]:
    """The accounts SCIM may see: the district's (a school admin's schools' only), less those a SCIM client
    deleted while they stay revoked."""
    qs = Account.objects.filter(district=access.district).exclude(
        scim_link__deleted_at__isnull=False, state=S.REVOKED
    )
    if access.school_limited:
        qs = qs.filter(person__in=people_in_scope(access))
    return qs.annotate(scim_user_name=Coalesce("username", "person__sis_code", Value(""))).select_related(
        "person", "scim_link"
    )


def _students_of(district: District, contact_ids: list[int]) -> dict[int, list[s.VisibleStudent]]:
    """The students each contact may see right now and the sections permitted, by the portal's rule
    (`accounts.queries.visible_links`)."""
    seen: dict[int, list[s.VisibleStudent]] = defaultdict(list)
    links = visible_links(district, contact_ids).select_related("student")
    for link in links.order_by("student__sis_code"):
        seen[link.contact_id].append(
            s.VisibleStudent(
                value=link.student.sis_code,
                display=link.student.display_name,
                sections=sections_of(link.permissions),
            )
        )
    return seen


def _schools_of(district: District, person_ids: list[int]) -> dict[int, list[School]]:
    schools: dict[int, list[School]] = defaultdict(list)
    rows = Membership.objects.filter(district=district, person_id__in=person_ids).select_related("school")
    for membership in rows.order_by("school__name", "school_id"):
        if membership.school not in schools[membership.person_id]:
            schools[membership.person_id].append(membership.school)
    return schools


def build_users(district: District, accounts: Iterable[Account], base: str) -> list[s.UserResource]:
    """SCIM Users for these accounts, with their groups and (guardians) visible students, in a few queries."""
    accounts = list(accounts)
    person_ids = [a.person_id for a in accounts]
    contacts = [a.person_id for a in accounts if a.person.kind == PersonKind.CONTACT]
    students = _students_of(district, contacts) if contacts else {}
    schools = _schools_of(district, person_ids) if person_ids else {}
    users = []
    for account in accounts:
        person: Person = account.person
        link = getattr(account, "scim_link", None)
        groups = [
            s.GroupRef(value=f"school-{school.pk}", display=school.name or school.sis_code, type="direct")
            for school in schools.get(person.pk, [])
        ]
        groups.append(s.GroupRef(value=f"kind-{person.kind}", display=KIND_NAMES[person.kind], type="direct"))
        user = s.UserResource(
            id=str(account.pk),
            external_id=(link.external_id or None) if link else None,
            user_name=account.username or person.sis_code,
            name=s.Name(
                formatted=person.display_name,
                family_name=person.family_name or None,
                given_name=(person.preferred_given_name or person.given_name) or None,
                middle_name=person.middle_name or None,
            ),
            display_name=person.display_name,
            emails=[s.Email(value=person.email, type="other", primary=True)] if person.email else None,
            phone_numbers=[s.PhoneNumber(value=person.phone or person.sms, type="other")]
            if (person.phone or person.sms)
            else None,
            active=account.state in ACTIVE_STATES,
            groups=groups,
        )
        user[s.SchoolgateUser] = s.SchoolgateUser(
            kind=person.kind,
            sis_code=person.sis_code,
            state=account.state,
            reason=account.reason or None,
            students=students.get(person.pk) if person.kind == PersonKind.CONTACT else None,
        )
        modified = max(filter(None, [account.state_changed_at, link.updated_at if link else None]))
        users.append(_finish(user, "User", f"{base}/Users/{account.pk}", account.created_at, modified))
    return users


def get_account(access: Access, user_id: str) -> Account:
    """The account behind /Users/<id>, or 404 naming it (another district's accounts do not exist here)."""
    number = whole_number(user_id)  # ASCII digits only: "²" is no id, and "٣" no second spelling of 3
    account = user_queryset(access).filter(pk=number).first() if number is not None else None
    if account is None:
        raise NotFoundException(detail=f"no User {user_id!r} in this district")
    return account


def get_user(access: Access, user_id: str, base: str) -> s.UserResource:
    return build_users(access.district, [get_account(access, user_id)], base)[0]


# ---------------------------------------------------------------------------------------------- Users (write)


def _set_external_id(account: Account, external_id: str | None) -> None:
    if not external_id and not ScimAccount.objects.filter(account=account).exists():
        return
    link, _ = ScimAccount.objects.get_or_create(
        account=account, defaults={"district_id": account.district_id}
    )
    if link.external_id != (external_id or ""):
        link.external_id = external_id or ""
        link.save(update_fields=["external_id", "updated_at"])


def _set_active(account: Account, active: bool, actor: str) -> None:
    """Turn an account on or off through the lifecycle functions only."""
    if active == (account.state in ACTIVE_STATES):
        return
    if not active:
        if account.state in CREDENTIAL_STATES:
            lifecycle.revoke_account(account, actor=actor)
        return  # ready_to_provision and revoked are already inactive
    if account.state == S.READY_TO_PROVISION:
        lifecycle.provision_account(account, actor=actor)
        return
    raise MutabilityException(
        detail=f"cannot set active=true on account {account.pk} ({account.person.sis_code}): it is "
        f"{account.state}; a revoked or ready_to_revoke account comes back only when the SIS and the "
        "district's rules make the person eligible again"
    )


def apply_user(account: Account, wanted: s.UserResource, actor: str) -> None:
    """Carry the writable attributes of `wanted` (active, externalId) onto the account, in one transaction."""
    with transaction.atomic():
        locked = Account.objects.select_for_update().select_related("person", "district").get(pk=account.pk)
        _set_external_id(locked, wanted.external_id)
        if wanted.active is not None:
            _set_active(locked, wanted.active, actor)


def create_user(access: Access, wanted: s.UserResource, actor: str) -> Account:
    """POST /Users: the account of an existing SIS person, listed if the district's rules make them eligible."""
    district = access.district
    code = wanted.user_name or ""
    people = Person.objects.filter(district=district, sis_code=code)
    if access.school_limited:
        people = people.filter(pk__in=people_in_scope(access).values("pk"))
    person = people.first()
    if person is None:
        raise InvalidValueException(
            detail=f"no SIS person with code {code!r} in this district: SCIM cannot create people, they come "
            "from the SIS; POST a User whose userName is the SIS code of a person without an account"
        )
    existing = Account.objects.filter(district=district, person=person).first()
    if existing is not None:
        raise UniquenessException(
            detail=f"{code} already has an account (User {existing.pk}, {existing.state})"
        )
    with transaction.atomic():
        reconcile.reconcile_people(district, [person.pk], actor=actor)
        account = Account.objects.filter(district=district, person=person).select_related("person").first()
        if account is None:
            raise InvalidValueException(
                detail=f"{code} is not eligible for an account under the district's rules (not in the SIS, "
                "disabled, refused by a rule, or a guardian with no student they may see)"
            )
        apply_user(account, wanted, actor)
    return account


def delete_user(account: Account, actor: str) -> None:
    """DELETE /Users/<id>: withdraw or revoke through the lifecycle, then hide the account from SCIM."""
    with transaction.atomic():
        if account.state == S.READY_TO_PROVISION:
            ScimAccount.objects.filter(account_id=account.pk).delete()
            lifecycle.withdraw(account.district, select_accounts([account.pk]), actor=actor)
        elif account.state in CREDENTIAL_STATES:
            lifecycle.revoke_account(account, actor=actor)
        # A withdrawn account that had been revoked before goes back to revoked (its history), so mark it too.
        if Account.objects.filter(pk=account.pk).exists():
            link, _ = ScimAccount.objects.get_or_create(
                account_id=account.pk, defaults={"district_id": account.district_id}
            )
            link.deleted_at = timezone.now()
            link.save(update_fields=["deleted_at", "updated_at"])


# ---------------------------------------------------------------------------------------------- Groups


def build_groups(access: Access, base: str) -> list[s.GroupResource]:
    """Every group of the district: its schools (in the SIS), then the three kinds of person."""
    district = access.district
    visible = user_queryset(access)
    groups = []
    members_by_school: dict[int, list[s.Member]] = defaultdict(list)
    members_by_kind: dict[str, list[s.Member]] = defaultdict(list)
    names = {a.person_id: (a.pk, a.scim_user_name, a.person.kind) for a in visible}
    rows = Membership.objects.filter(district=district, person_id__in=list(names)).values_list(
        "school_id", "person_id"
    )
    for school_id, person_id in sorted(set(rows)):
        pk, name, _ = names[person_id]
        members_by_school[school_id].append(s.Member(value=str(pk), display=name, type="User"))
    for pk, name, kind in sorted(names.values()):
        members_by_kind[kind].append(s.Member(value=str(pk), display=name, type="User"))
    now = district.created_at
    for school in School.objects.filter(district=district, in_sis=True).order_by("name", "pk"):
        group = s.GroupResource(
            id=f"school-{school.pk}",
            display_name=school.name or school.sis_code,
            members=members_by_school.get(school.pk) or None,
        )
        group[s.SchoolgateGroup] = s.SchoolgateGroup(group_type="school", code=school.sis_code)
        groups.append(_finish(group, "Group", f"{base}/Groups/school-{school.pk}", now, now))
    for kind, label in KIND_NAMES.items():
        group = s.GroupResource(
            id=f"kind-{kind}", display_name=label, members=members_by_kind.get(kind) or None
        )
        group[s.SchoolgateGroup] = s.SchoolgateGroup(group_type="kind", code=str(kind))
        groups.append(_finish(group, "Group", f"{base}/Groups/kind-{kind}", now, now))
    return groups


def get_group(access: Access, group_id: str, base: str) -> s.GroupResource:
    for group in build_groups(access, base):
        if group.id == group_id:
            return group
    raise NotFoundException(detail=f"no Group {group_id!r} in this district")
