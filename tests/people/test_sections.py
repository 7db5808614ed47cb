"""Per-student sections: rules may grant fewer sections from SIS flags such as custody or lives-with, and each
link is decided on its own."""

from __future__ import annotations

import pytest

from schoolgate.people.eligibility import InvalidRule
from schoolgate.people.evaluation import evaluate_links
from schoolgate.people.models import EligibilityRule, Link, PersonKind, sections_of
from tests.builders import write_oneroster
from tests.factories import make_link, make_person
from tests.sync.helpers import accounts_by_person


def test_a_rule_on_custody_grants_only_some_sections(district):
    EligibilityRule.objects.create(
        district=district, audience="contact", position=1, name="non-custodial-parents", effect="allow",
        conditions={"relationship": ["parent"], "custody": False}, sections=["reports", "attendance"],
    )  # fmt: skip
    kid, other = make_person(district, PersonKind.STUDENT), make_person(district, PersonKind.STUDENT)
    dad = make_person(district, PersonKind.CONTACT)
    limited = make_link(kid, dad, custody=False)
    full = make_link(other, dad, custody=True, lives_with=True)
    assert evaluate_links(district) == 2
    limited.refresh_from_db()
    full.refresh_from_db()
    assert (limited.portal_flag, limited.flag_rule, sections_of(limited.permissions)) == (
        True, "non-custodial-parents", ["reports", "attendance"]
    )  # fmt: skip
    assert (full.flag_rule, sections_of(full.permissions)) == (
        "parents-and-guardians", ["reports", "assessments", "timetable", "attendance", "courses"]
    )  # fmt: skip
    assert evaluate_links(district) == 0, "nothing changes on a second evaluation"
    assert Link.objects.filter(district=district, portal_flag=True).count() == 2


def contact_rule(district, name, conditions, effect="allow", position=1):
    return EligibilityRule.objects.create(
        district=district,
        audience="contact",
        position=position,
        name=name,
        effect=effect,
        conditions=conditions,
    )


def test_a_priority_limit_includes_the_contact_at_that_priority(district):
    contact_rule(district, "first-two-contacts", {"priority_at_most": 2})
    kid = make_person(district, PersonKind.STUDENT)
    at, below = (
        make_link(kid, make_person(district), priority=2),
        make_link(kid, make_person(district), priority=3),
    )
    evaluate_links(district)
    at.refresh_from_db()
    below.refresh_from_db()
    assert (at.portal_flag, at.flag_rule) == (True, "first-two-contacts")
    assert below.flag_rule != "first-two-contacts"


def test_a_roles_condition_matches_whole_roles_only(district):
    contact_rule(district, "parents-by-role", {"contact_roles_any": ["parent"]})
    kid = make_person(district, PersonKind.STUDENT)
    parent = make_link(kid, make_person(district, roles="guardian,parent"), relationship="carer")
    grandparent = make_link(kid, make_person(district, roles="grandparent"), relationship="carer")
    evaluate_links(district)
    parent.refresh_from_db()
    grandparent.refresh_from_db()
    assert (parent.portal_flag, parent.flag_rule) == (True, "parents-by-role")
    assert (grandparent.portal_flag, grandparent.flag_rule) == (False, "")


def test_a_relationship_no_rule_names_gets_no_access(district):
    kid = make_person(district, PersonKind.STUDENT)
    neighbour = make_link(kid, make_person(district, roles="emergency"), relationship="emergency")
    evaluate_links(district)
    neighbour.refresh_from_db()
    assert (neighbour.portal_flag, neighbour.flag_rule, neighbour.permissions) == (False, "", 0)


def test_a_malformed_rule_stops_the_evaluation_instead_of_deciding_silently(district):
    contact_rule(district, "typo", {"student_enabled": "false"})
    make_link(make_person(district, PersonKind.STUDENT), make_person(district))
    with pytest.raises(InvalidRule, match="student_enabled"):
        evaluate_links(district)


def test_a_district_without_a_staff_rule_gives_staff_no_login_and_students_keep_theirs(
    cli, district, tmp_path
):
    """No matching rule means no access, audience by audience."""
    EligibilityRule.objects.filter(district=district, audience="staff").delete()
    users = [{"sourcedId": "kid", "role": "student"}, {"sourcedId": "teach", "role": "teacher"}]
    path = write_oneroster(tmp_path, orgs=[{"sourcedId": "north"}], users=users)
    assert cli("sync", district.slug, path, "--json").json["status"] == "applied"
    assert accounts_by_person(cli, district.slug).keys() == {"kid"}
