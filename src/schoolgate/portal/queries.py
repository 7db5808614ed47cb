"""What the portal's pages read besides the session, the account and its visible students.

These run on every "My students" page, so each is one fixed SQL statement rather than a queryset (building the
ORM query cost more than running it: BENCHMARKS.md, login — portal page).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from schoolgate.accounts.portal_data import VisibleStudent
from schoolgate.core import sql
from schoolgate.core.models import School
from schoolgate.people.models import Membership, Person


def schools_of(district_id: int, codes: Sequence[str]) -> dict[str, list[str]]:
    """Each student's schools by name (the SIS code when unnamed), primary first, for the students with these
    codes in this district: one statement for all of them, none when there are none.

    Takes codes the caller may already show (`visible_students`) rather than restating who may see whom, so
    the visibility rule stays in one place.
    """
    if not codes:
        return {}
    marks = ", ".join(["%s"] * len(codes))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT p.sis_code, o.name, o.sis_code
            FROM {sql.table(Person)} p
            JOIN {sql.table(Membership)} m ON m.person_id = p.id AND m.district_id = p.district_id
            JOIN {sql.table(School)} o ON o.id = m.school_id AND o.district_id = p.district_id
            WHERE p.district_id = %s AND p.sis_code IN ({marks})
            ORDER BY p.sis_code, m.is_primary DESC, o.name, o.sis_code
            """,
            [district_id, *codes],
        )
        schools: dict[str, list[str]] = {}
        for code, name, school_code in cursor.fetchall():
            names = schools.setdefault(code, [])
            if (name or school_code) not in names:  # one line per school, whatever roles they hold there
                names.append(name or school_code)
    return schools


def with_schools(district_id: int, students: list[VisibleStudent]) -> list[tuple[VisibleStudent, list[str]]]:
    """The students, each with their school names: two children of the same name are told apart by school
    and grade."""
    schools = schools_of(district_id, [student.code for student in students])
    return [(student, schools.get(student.code, [])) for student in students]
