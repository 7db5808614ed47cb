"""Factory functions for tests: random codes, plain names, the default rules installed."""

from __future__ import annotations

import itertools
import uuid

from schoolgate.core.models import District
from schoolgate.people.eligibility import install_default_rules
from schoolgate.people.models import Link, Person, PersonKind

_counter = itertools.count(1)


def make_district(slug: str | None = None, **fields) -> District:
    district = District.objects.create(
        slug=slug or f"d{uuid.uuid4().hex[:8]}", name=fields.pop("name", "Test"), **fields
    )
    install_default_rules(district)
    return district


def make_person(
    district: District, kind: str = PersonKind.CONTACT, code: str | None = None, **fields
) -> Person:
    n = next(_counter)
    roles = fields.pop("roles", {"student": "student", "contact": "parent", "staff": "teacher"}[kind])
    return Person.objects.create(
        district=district,
        sis_code=code or f"{kind[:1]}{n}",
        kind=kind,
        roles=roles,
        given_name=fields.pop("given_name", f"Given{n}"),
        family_name=fields.pop("family_name", f"Family{n}"),
        **fields,
    )


def make_link(student: Person, contact: Person, relationship: str = "parent", **fields) -> Link:
    return Link.objects.create(
        district=student.district,
        student=student,
        contact=contact,
        relationship=relationship,
        declared_by_student=True,
        **fields,
    )


def family(district: District, children: int = 1, parents: int = 1) -> tuple[list[Person], list[Person]]:
    kids = [make_person(district, PersonKind.STUDENT) for _ in range(children)]
    adults = [make_person(district, PersonKind.CONTACT) for _ in range(parents)]
    for kid in kids:
        for adult in adults:
            make_link(kid, adult)
    return kids, adults
