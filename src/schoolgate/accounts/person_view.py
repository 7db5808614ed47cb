"""A person as an admin needs to see them: details, account, and every link with its flag, the rule that
decided it, the sections in force and the overrides (the "student information pane")."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from schoolgate.accounts.models import Account
from schoolgate.core.models import District
from schoolgate.people.models import Link, Override, Person, PersonKind, sections_of


class UnknownPerson(LookupError):
    """No person has that code in the district."""


def get_person(district: District, code: str) -> Person:
    try:
        return Person.objects.select_related("merged_into").get(district=district, sis_code=code)
    except Person.DoesNotExist:
        raise UnknownPerson(f"no person {code!r} in this district") from None


def describe_person(district: District, code: str) -> dict[str, Any]:
    """Everything about one person, as plain data."""
    person = get_person(district, code)
    account = Account.objects.filter(person=person).select_related("successor").first()
    as_student = person.kind == PersonKind.STUDENT
    links = Link.objects.filter(
        district=district, **({"student": person} if as_student else {"contact": person})
    )
    links = links.select_related("student", "contact").order_by("student__sis_code", "contact__sis_code")
    now = timezone.now()
    overrides: dict[int, list[dict]] = {}
    for o in Override.objects.filter(link__in=links, removed_at__isnull=True).exclude(expires_at__lte=now):
        overrides.setdefault(o.link_id, []).append(
            {"id": o.pk, "field": o.field, "value": o.value, "reason": o.reason,
             "expires_at": o.expires_at.isoformat() if o.expires_at else None}
        )  # fmt: skip
    return {
        "person": {
            "code": person.sis_code,
            "kind": person.kind,
            "roles": person.roles.split(",") if person.roles else [],
            "name": person.display_name,
            "email": person.email,
            "phone": person.phone or person.sms,
            "enabled": person.enabled,
            "in_sis": person.in_sis,
            "merged_into": person.merged_into.sis_code if person.merged_into else None,
            "login_rule": person.login_rule,
        },
        "account": None
        if account is None
        else {
            "state": account.state,
            "reason": account.reason or None,
            "username": account.username,
            "successor": account.successor.sis_code if account.successor else None,
            "locked": bool(account.locked_until and account.locked_until > now),
        },
        "links": [
            {
                ("contact" if as_student else "student"): (
                    link.contact if as_student else link.student
                ).sis_code,
                "relationship": link.relationship,
                "in_sis": link.in_sis,
                "portal_flag": link.portal_flag,
                "rule_flag": link.rule_flag,
                "flag_rule": link.flag_rule,
                "sections": sections_of(link.permissions) if link.portal_flag else [],
                "rule_sections": sections_of(link.rule_permissions),
                "overrides": overrides.get(link.pk, []),
            }
            for link in links
        ],
    }
