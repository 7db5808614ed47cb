"""The portal for whoever logs in: a refused login keeps the username typed (never the password), and a staff
member, whom the portal shows no students, is not addressed as a guardian missing their children."""

from __future__ import annotations

import re

import pytest

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account
from tests.builders import write_oneroster
from tests.factories import make_district

PASSWORD = "plum tree harbour 42"
ORGS = [{"sourcedId": "nordby", "name": "Nordby School", "type": "school"}]
USERS = [
    {"sourcedId": "ola", "role": "student", "orgSourcedIds": "nordby", "agentSourcedIds": "mor",
     "givenName": "Ola", "familyName": "Hansson", "grades": "10"},
    {"sourcedId": "mor", "role": "parent", "orgSourcedIds": "nordby", "givenName": "Kari",
     "familyName": "Hansson", "email": "kari@example.org"},
    {"sourcedId": "tea", "role": "teacher", "orgSourcedIds": "nordby", "givenName": "Tor",
     "familyName": "Berg", "email": "tor@example.org"},
]  # fmt: skip


@pytest.fixture
def fjordvik(cli, tmp_path):
    district = make_district("fjordvik", name="Fjordvik District")
    cli("sync", district.slug, write_oneroster(tmp_path / "set", users=USERS, orgs=ORGS), "--json")
    return district


def activated(district, code: str) -> Account:
    account = Account.objects.get(district=district, person__sis_code=code)
    lifecycle.provision_account(account, actor="test")
    return lifecycle.activate_account(Account.objects.get(pk=account.pk), username=f"{code}.login",
                                      password=PASSWORD, actor="test")  # fmt: skip


def identifier_value(html: str) -> str | None:
    field = re.search(r'<input id="identifier"[^>]*>', html)
    assert field, html
    value = re.search(r'value="([^"]*)"', field.group(0))
    return value.group(1) if value else None


def test_a_wrong_password_keeps_the_username_but_not_the_password(client, fjordvik):
    activated(fjordvik, "mor")
    first = client.get("/portal/fjordvik/login/").content.decode()
    assert identifier_value(first) in (None, ""), "a first visit shows an empty field"

    refused = client.post(
        "/portal/fjordvik/login/", {"identifier": "mor.login", "password": "not my password"}
    )
    html = refused.content.decode()
    assert refused.status_code == 400 and 'role="alert"' in html
    assert identifier_value(html) == "mor.login"
    assert "not my password" not in html, "the password is never written back into the page"
    assert re.search(r'<input id="password"[^>]*>', html).group(0).count("value=") == 0


def test_what_was_typed_comes_back_escaped(client, fjordvik):
    refused = client.post("/portal/fjordvik/login/", {"identifier": '"><b>x', "password": "whatever it is"})
    assert refused.status_code == 400
    assert identifier_value(refused.content.decode()) == "&quot;&gt;&lt;b&gt;x"


def test_staff_are_not_addressed_as_guardians(client, fjordvik):
    staff = activated(fjordvik, "tea")
    assert staff.person.kind == "staff"
    assert (
        client.post("/portal/fjordvik/login/", {"identifier": "tea.login", "password": PASSWORD}).status_code
        == 302
    )
    html = client.get("/portal/students/").content.decode()
    assert re.search(r"<h1>\s*Your account\s*</h1>", html)
    assert re.search(r"<title>\s*Your account\s*</title>", html)
    assert "staff" in html and "guardians" in html
    for parent_wording in (
        "My students",
        "No students are linked",
        "If this is wrong",
        "contact the school office",
    ):
        assert parent_wording not in html, parent_wording


def test_guardians_keep_their_wording(client, fjordvik):
    activated(fjordvik, "mor")
    client.post("/portal/fjordvik/login/", {"identifier": "mor.login", "password": PASSWORD})
    html = client.get("/portal/students/").content.decode()
    assert re.search(r"<h1>\s*My students\s*</h1>", html) and 'data-student="ola"' in html
    assert "Your account" not in html
