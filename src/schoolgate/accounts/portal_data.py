"""What a logged-in person sees in the portal: for a guardian, each child they may see and only the sections
they are permitted for that child; for a student or staff member, themselves."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from schoolgate.accounts.models import Account
from schoolgate.core import sql
from schoolgate.people.models import SECTIONS, Link, Person, PersonKind, display_name, sections_of


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
    # The rule of `accounts.queries.visible_links`, as one fixed SQL statement rather than a queryset: this
    # runs on every "My students" page, and building the ORM query cost more than running it (BENCHMARKS.md,
    # login — portal page).
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT s.sis_code, s.preferred_given_name, s.given_name, s.family_name, s.grades, l.permissions
            FROM {sql.table(Link)} l JOIN {sql.table(Person)} s ON s.id = l.student_id
            WHERE l.district_id = %s AND l.contact_id = %s AND l.in_sis AND l.portal_flag AND s.in_sis
            ORDER BY s.given_name, s.sis_code
            """,
            [account.district_id, person.pk],
        )
        return [
            VisibleStudent(
                code, display_name(preferred, given, family, code), grades, sections_of(permissions)
            )
            for code, preferred, given, family, grades, permissions in cursor.fetchall()
        ]
