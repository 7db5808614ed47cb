"""The admins page as a browser without JavaScript uses it: an admin's row can make them a School admin and
change their schools (the row's form carries a school picker), and the page shows levels and schools by their
names, never their keys or codes."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from schoolgate.admins import roles
from schoolgate.admins.delegation import invite_admin
from schoolgate.admins.models import AdminMembership
from schoolgate.core.models import School
from tests.factories import log_in_admin, make_admin, make_district


class RowForm(HTMLParser):
    """The fields of the form in the table row of one admin, as a browser would submit them."""

    def __init__(self, username: str) -> None:
        super().__init__()
        self.username, self.in_row, self.in_form = username, False, False
        self.fields: list[tuple[str, str]] = []  # hidden inputs: (name, value)
        self.selects: dict[str, list[tuple[str, bool]]] = {}  # name -> [(value, selected)]
        self.labels: dict[str, str] = {}  # for= -> text
        self._select = self._label = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "tr":
            self.in_row = a.get("data-admin") == self.username
        elif self.in_row and tag == "form":
            self.in_form = True
        elif self.in_form and tag == "input" and a.get("type") == "hidden":
            self.fields.append((a["name"], a.get("value", "")))
        elif self.in_form and tag == "select":
            self._select = a["name"]
            self.selects[self._select] = []
        elif self._select and tag == "option":
            self.selects[self._select].append((a["value"], "selected" in a))
        elif self.in_form and tag == "label":
            self._label = a["for"]
            self.labels[self._label] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "label":
            self._label = None
        elif tag == "form":
            self.in_form = False
        elif tag == "tr":
            self.in_row = False

    def handle_data(self, data: str) -> None:
        if self._label:
            self.labels[self._label] += data

    def submit(self, client: Client, url: str, **chosen: str | list[str]) -> object:
        """Post the form with the selects left as rendered, except those in `chosen`."""
        data: dict[str, list[str]] = {}
        for name, value in self.fields:
            data.setdefault(name, []).append(value)
        for name, options in self.selects.items():
            data[name] = [value for value, selected in options if selected]
        for name, value in chosen.items():
            data[name] = [value] if isinstance(value, str) else value
        return client.post(url, {**data, "action": "change"})


@pytest.fixture
def primary(client, district):
    user = make_admin(district, "pat@example.org", roles.PRIMARY)
    log_in_admin(client, user)
    return user


@pytest.fixture
def schools(district):
    return [
        School.objects.create(
            district=district, sis_code="sch-0001", name="Hillside Primary", org_type="school"
        ),
        School.objects.create(
            district=district, sis_code="sch-0002", name="Riverside High", org_type="school"
        ),
        School.objects.create(district=district, sis_code="sch-0003", name="", org_type="school"),
    ]


def page(client, district) -> str:
    response = client.get(reverse("console:admins", kwargs={"slug": district.slug}))
    assert response.status_code == 200
    return response.content.decode()


def row_form(client, district, username: str) -> RowForm:
    form = RowForm(username)
    form.feed(page(client, district))
    return form


def manage_url(district) -> str:
    return reverse("console:admins_manage", kwargs={"slug": district.slug})


def test_the_row_makes_an_admin_a_school_admin_of_the_schools_picked(client, district, primary, schools):
    sam = make_admin(district, "sam@example.org", roles.SUPPORT_ROLE)
    form = row_form(client, district, "sam@example.org")
    assert [value for value, _ in form.selects.get("schools", [])] == ["sch-0003", "sch-0001", "sch-0002"], (
        "the row offers the district's schools"
    )
    assert "Schools (for School admin)" in form.labels.values()

    response = form.submit(client, manage_url(district), role=roles.SCHOOL_ADMIN, schools=["sch-0002"])
    assert response.status_code == 302
    membership = AdminMembership.objects.get(user=sam)
    assert (membership.role, membership.school_codes) == (roles.SCHOOL_ADMIN, ["sch-0002"])


def test_the_row_changes_a_school_admins_schools(client, district, primary, schools):
    sam = make_admin(district, "sam@example.org", roles.SCHOOL_ADMIN, ("sch-0001",))
    form = row_form(client, district, "sam@example.org")
    assert [value for value, selected in form.selects["schools"] if selected] == ["sch-0001"], (
        "preselected with the admin's current schools"
    )

    response = form.submit(client, manage_url(district), schools=["sch-0001", "sch-0003"])
    assert response.status_code == 302
    assert AdminMembership.objects.get(user=sam).school_codes == ["sch-0001", "sch-0003"]


def test_the_row_moves_a_school_admin_to_another_level_despite_the_preselected_schools(
    client, district, primary, schools
):
    sam = make_admin(district, "sam@example.org", roles.SCHOOL_ADMIN, ("sch-0001",))
    form = row_form(client, district, "sam@example.org")
    response = form.submit(client, manage_url(district), role=roles.AUDITOR)
    assert response.status_code == 302
    membership = AdminMembership.objects.get(user=sam)
    assert (membership.role, membership.school_codes) == (roles.AUDITOR, [])


def test_a_school_admin_without_schools_is_still_refused_at_the_top(client, district, primary, schools):
    sam = make_admin(district, "sam@example.org", roles.SUPPORT_ROLE)
    form = row_form(client, district, "sam@example.org")
    response = form.submit(client, manage_url(district), role=roles.SCHOOL_ADMIN)
    assert response.status_code == 400
    assert re.search(r'role="alert">a school admin needs at least one school<', response.content.decode())
    assert AdminMembership.objects.get(user=sam).role == roles.SUPPORT_ROLE


def test_the_row_offers_only_this_districts_schools_and_refuses_anothers(client, district, primary, schools):
    other = make_district()
    School.objects.create(district=other, sis_code="sch-9999", name="Faraway School", org_type="school")
    sam = make_admin(district, "sam@example.org", roles.SUPPORT_ROLE)
    assert "Faraway School" not in page(client, district)
    form = row_form(client, district, "sam@example.org")
    response = form.submit(client, manage_url(district), role=roles.SCHOOL_ADMIN, schools=["sch-9999"])
    assert response.status_code == 400
    assert AdminMembership.objects.get(user=sam).role == roles.SUPPORT_ROLE


def test_levels_and_schools_are_shown_by_name(client, district, primary, schools):
    make_admin(district, "sam@example.org", roles.SCHOOL_ADMIN, ("sch-0001", "sch-0003"))
    invite_admin(district, "kim@example.org", roles.SCHOOL_ADMIN, school_codes=["sch-0002"], actor="test")
    invite_admin(district, "lee@example.org", roles.SUPPORT_ROLE, actor="test")
    html = page(client, district)

    row = re.search(r'<tr data-admin="sam@example.org">.*?</tr>', html, re.S).group(0)
    cells = re.findall(r"<td>([^<]*)</td>", row)
    assert cells[:3] == ["sam@example.org", "School admin", "Hillside Primary, sch-0003"], (
        "school names, and the code of a school without a name"
    )
    pending = re.search(r"Invitations not yet accepted.*?</ul>", html, re.S).group(0)
    assert "kim@example.org — School admin (Riverside High)" in pending
    assert "lee@example.org — Support" in pending
    assert "school_admin" not in pending and "— support" not in pending


def test_the_page_names_every_school_with_one_query(client, district, primary, schools):
    def school_queries() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            page(client, district)
        return [q["sql"] for q in queries.captured_queries if "core_school" in q["sql"]]

    make_admin(district, "sam@example.org", roles.SCHOOL_ADMIN, ("sch-0001",))
    few = school_queries()
    for n in range(4):
        make_admin(district, f"a{n}@example.org", roles.SCHOOL_ADMIN, ("sch-0001", "sch-0002"))
    many = school_queries()
    # The names on the page, and the schools to pick from: not one per admin.
    assert len(many) == len(few) <= 2, many
    assert all('"district_id" =' in sql for sql in many), "scoped to the district"


def test_the_invitation_page_names_the_level(district):
    _, token = invite_admin(district, "sam@example.org", roles.SUPPORT_ROLE, actor="test")
    response = Client().get(reverse("console:invitation", kwargs={"token": token}))
    assert response.status_code == 200
    assert "You were invited as <strong>Support</strong>" in response.content.decode()
