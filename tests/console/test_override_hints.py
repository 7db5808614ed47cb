"""Forcing the portal on for a link that shares no sections (a relative, whom the default rules refuse) gives
the contact a login whose portal shows the student's name and nothing else. The console says so: once, after
the override is saved, and beside that link on the person page for as long as it holds, naming the overrides
that share sections. What the override does is unchanged."""

from __future__ import annotations

import re

import pytest

from schoolgate.people.models import Link
from tests.builders import write_oneroster
from tests.factories import log_in_admin, make_admin

ORGS = [{"sourcedId": "north", "name": "North High", "type": "school"}]
USERS = [
    {"sourcedId": "kid", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": "mum,aunt",
     "givenName": "Kim", "familyName": "Able"},
    {"sourcedId": "mum", "role": "parent", "orgSourcedIds": "north", "givenName": "Mia", "familyName": "Able"},
    {"sourcedId": "aunt", "role": "relative", "orgSourcedIds": "north", "givenName": "Ada", "familyName": "Able"},
]  # fmt: skip
SECTIONS = ("reports", "assessments", "timetable", "attendance", "courses")


@pytest.fixture
def admin(client, district, cli, tmp_path):
    cli("sync", district.slug, write_oneroster(tmp_path / "set", users=USERS, orgs=ORGS), "--json")
    log_in_admin(client, make_admin(district))
    return client


def force(admin, district, page: str, contact: str, field: str, value: str = "on"):
    return admin.post(
        f"/console/{district.slug}/people/{page}/override/",
        {
            "contact": contact,
            "student": "kid",
            "field": field,
            "value": value,
            "reason": "carer by court order",
        },
    )


def notices(response) -> list[str]:
    return [
        re.sub(r"\s+", " ", m.decode())
        for m in re.findall(rb'<p role="status"[^>]*>(.*?)</p>', response.content, re.S)
    ]


def row_of(response, other: str) -> str:
    """The person page's table row for the link to `other`."""
    found = re.search(rb'<tr data-link="' + other.encode() + rb'">(.*?)</tr>', response.content, re.S)
    assert found, f"no row for {other}"
    return re.sub(r"\s+", " ", found.group(1).decode())


def says_name_only(text: str) -> bool:
    text = text.lower()
    return "name" in text and "no sections" in text and all(section in text for section in SECTIONS)


def test_forcing_the_portal_on_for_a_relative_says_they_will_see_the_name_only(admin, district):
    saved = force(admin, district, "kid", "aunt", "portal")
    assert saved.status_code == 302
    link = Link.objects.get(district=district, contact__sis_code="aunt")
    assert (link.portal_flag, link.permissions) == (True, 0), "the override itself is unchanged"

    page = admin.get(saved["Location"])
    (notice,) = notices(page)
    assert says_name_only(notice), notice
    assert "Ada Able" in notice and "Kim Able" in notice, "the people are named as the admin knows them"
    assert "override" in notice and "the value on" in notice, "how to share a section: an override of it, on"
    assert notices(admin.get(saved["Location"])) == [], "said once, after saving"


def test_the_person_page_says_it_beside_that_link_until_a_section_is_shared(admin, district):
    force(admin, district, "kid", "aunt", "portal")
    for page, other in (("kid", "aunt"), ("aunt", "kid")):
        response = admin.get(f"/console/{district.slug}/people/{page}/")
        assert says_name_only(row_of(response, other)), row_of(response, other)
    kid = admin.get(f"/console/{district.slug}/people/kid/")
    assert not says_name_only(row_of(kid, "mum")), "a parent sees every section: nothing to say"

    shared = force(admin, district, "kid", "aunt", "attendance")
    assert notices(admin.get(shared["Location"])) == [], "a section is shared now"
    assert not says_name_only(row_of(admin.get(f"/console/{district.slug}/people/kid/"), "aunt"))


def test_no_notice_when_the_link_already_shares_sections(admin, district):
    saved = force(admin, district, "kid", "mum", "portal")
    assert saved.status_code == 302 and notices(admin.get(saved["Location"])) == []


def test_turning_the_last_shared_section_off_says_so_too(admin, district):
    force(admin, district, "kid", "aunt", "portal")
    force(admin, district, "kid", "aunt", "reports")
    admin.get(f"/console/{district.slug}/people/kid/")  # the first notice, read
    removed = force(admin, district, "kid", "aunt", "reports", value="off")
    (notice,) = notices(admin.get(removed["Location"]))
    assert says_name_only(notice)
