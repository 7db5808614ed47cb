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


ADMIN_PASSWORD = "correct horse battery staple"


def make_admin(district: District | None, email: str = "ada@example.org", role: str = "primary",
               schools: tuple[str, ...] = (), *, operator: bool = False):  # fmt: skip
    """An admin login with a confirmed authenticator, and a membership in `district` at `role` (if given)."""
    from django.contrib.auth.models import User
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from schoolgate.admins.models import AdminMembership

    user = User.objects.filter(username=email).first() or User.objects.create_user(
        email, email=email, password=ADMIN_PASSWORD, is_staff=operator, is_superuser=operator
    )
    if district is not None:
        AdminMembership.objects.create(
            user=user, district=district, role=role, school_codes=list(schools), created_by="test"
        )
    TOTPDevice.objects.get_or_create(user=user, name="test authenticator", defaults={"confirmed": True})
    return user


def log_in_admin(client, user) -> None:
    """Log `user` in to the console as if they had typed their password and a valid TOTP code."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    session["otp_device_id"] = TOTPDevice.objects.filter(user=user).first().persistent_id
    session.save()
