"""What a logged-in person sees in the portal: for a guardian, each child they may see and only the sections
they are permitted for that child; for a student or staff member, themselves."""

from __future__ import annotations

from dataclasses import dataclass

from schoolgate.accounts.models import Account
from schoolgate.people.models import SECTIONS, Link, PersonKind, sections_of


@dataclass(frozen=True)
class VisibleStudent:
    code: str
    name: str
    grades: str
    sections: list[str]


def visible_students(account: Account) -> list[VisibleStudent]:
    person = account.person
    if person.kind == PersonKind.STUDENT:
        return [VisibleStudent(person.sis_code, person.display_name, person.grades, list(SECTIONS))]
    links = (
        Link.objects.filter(
            district=account.district, contact=person, in_sis=True, portal_flag=True, student__in_sis=True
        )
        .select_related("student")
        .order_by("student__given_name", "student__sis_code")
    )
    return [
        VisibleStudent(
            link.student.sis_code,
            link.student.display_name,
            link.student.grades,
            sections_of(link.permissions),
        )
        for link in links
    ]
