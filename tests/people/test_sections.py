"""Per-student sections: rules may grant fewer sections from SIS flags such as custody or lives-with, and each
link is decided on its own."""

from __future__ import annotations

from schoolgate.people.evaluation import evaluate_links
from schoolgate.people.models import EligibilityRule, Link, PersonKind, sections_of
from tests.factories import make_link, make_person


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
