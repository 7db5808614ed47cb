"""The guardian portal's pages as a guardian meets them: telling children apart, the page header (district,
log out), and the confirmations after changing the password and logging out."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account, Invitation
from schoolgate.accounts.tokens import make_token
from schoolgate.people.models import Link
from tests.builders import write_oneroster
from tests.factories import make_district

PASSWORD = "plum tree harbour 42"
ORGS = [
    {"sourcedId": "nordby", "name": "Nordby School", "type": "school"},
    {"sourcedId": "sundby", "name": "Sundby School", "type": "school"},
]
ASTRIDS = [
    {"sourcedId": "a6", "role": "student", "orgSourcedIds": "nordby", "agentSourcedIds": "mor",
     "givenName": "Astrid", "familyName": "Hansson", "grades": "06"},
    {"sourcedId": "a8", "role": "student", "orgSourcedIds": "sundby", "agentSourcedIds": "mor",
     "givenName": "Astrid", "familyName": "Hansson", "grades": "08"},
    {"sourcedId": "ola", "role": "student", "orgSourcedIds": "nordby,sundby", "agentSourcedIds": "mor",
     "givenName": "Ola", "familyName": "Hansson", "grades": "10"},
    {"sourcedId": "mor", "role": "parent", "orgSourcedIds": "nordby", "givenName": "Kari",
     "familyName": "Hansson", "email": "kari@example.org"},
]  # fmt: skip


def synced(cli, tmp_path, slug: str, name: str, orgs: list[dict] = ORGS):
    district = make_district(slug, name=name)
    cli("sync", slug, write_oneroster(tmp_path / slug, users=ASTRIDS, orgs=orgs), "--json")
    return district


def activate(code: str, district) -> Account:
    account = Account.objects.get(district=district, person__sis_code=code)
    lifecycle.provision_account(account, actor="test")
    return lifecycle.activate_account(
        Account.objects.get(pk=account.pk),
        username=f"{code}-{district.slug}",
        password=PASSWORD,
        actor="test",
    )


def logged_in(client, district, code: str = "mor"):
    account = activate(code, district)
    response = client.post(
        f"/portal/{district.slug}/login/", {"identifier": account.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    return account


def card(html: str, code: str) -> str:
    """The text of one student's heading on the My students page, tags stripped, spaces collapsed."""
    match = re.search(rf'<h2 id="s-{code}">(.*?)</h2>', html, re.S)
    assert match, html
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def header(html: str) -> str:
    match = re.search(r"<header\b.*?</header>", html, re.S)
    return match.group(0) if match else ""


@pytest.fixture
def fjordvik(cli, tmp_path):
    return synced(cli, tmp_path, "fjordvik", "Fjordvik District")


def test_two_children_of_the_same_name_are_told_apart_by_school_and_grade(cli, tmp_path, client, fjordvik):
    # Another district with the same codes, whose schools have other names: its rows never show here.
    synced(cli, tmp_path, "elsewhere", "Elsewhere District",
           [{**org, "name": f"Elsewhere {org['sourcedId']}"} for org in ORGS])  # fmt: skip
    logged_in(client, fjordvik)
    html = client.get("/portal/students/").content.decode()
    assert card(html, "a6") == "Astrid Hansson Nordby School · grade 06"
    assert card(html, "a8") == "Astrid Hansson Sundby School · grade 08"
    assert card(html, "ola") in (
        "Ola Hansson Nordby School, Sundby School · grade 10",
        "Ola Hansson Sundby School, Nordby School · grade 10",
    ), "a student at two schools shows both"
    assert "Elsewhere" not in html


def test_a_student_sees_their_own_school(cli, tmp_path, client, fjordvik):
    logged_in(client, fjordvik, "a8")
    html = client.get("/portal/students/").content.decode()
    assert card(html, "a8") == "Astrid Hansson Sundby School · grade 08"


def test_the_students_page_adds_one_statement_for_the_schools(cli, tmp_path, client, fjordvik):
    """The page's reads are fixed statements (BENCHMARKS.md, login — portal page): the session, the account,
    the visible students and, since schools are shown, one more for the schools of all of them at once."""
    logged_in(client, fjordvik)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/portal/students/").status_code == 200
    assert len(queries) == 4, [q["sql"] for q in queries]
    # A login that sees no student does not ask for schools at all.
    Link.objects.filter(district=fjordvik).update(portal_flag=False)
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/portal/students/")
    assert b"No students are linked to your login" in page.content
    assert len(queries) == 3, [q["sql"] for q in queries]


@pytest.mark.parametrize("path", ["/portal/students/", "/portal/settings/", "/portal/settings/password/"])
def test_a_logged_in_page_names_the_district_and_offers_log_out(client, fjordvik, path):
    logged_in(client, fjordvik)
    top = header(client.get(path).content.decode())
    assert "Fjordvik District" in top
    form = re.search(r'<form method="post" action="/portal/logout/">(.*?)</form>', top, re.S)
    assert form, top
    assert 'name="csrfmiddlewaretoken"' in form.group(1) and "Log out" in form.group(1)


def test_pages_for_visitors_offer_no_log_out(client, fjordvik):
    """The welcome and reset pages name an account too, but nobody is logged in there."""
    account = Account.objects.get(district=fjordvik, person__sis_code="mor")
    lifecycle.provision_account(account, actor="test")
    welcome = make_token(Invitation.objects.filter(account=account).latest("pk"))
    for path in ("/portal/", "/portal/fjordvik/login/", f"/portal/activate/{welcome}/"):
        page = client.get(path)
        assert page.status_code == 200 and "/portal/logout/" not in page.content.decode(), path


def test_a_changed_password_is_confirmed_once(client, fjordvik):
    logged_in(client, fjordvik)
    new = "a brand new passphrase"
    done = client.post(
        "/portal/settings/password/", {"current": PASSWORD, "password": new, "password2": new}, follow=True
    )
    assert done.redirect_chain == [("/portal/settings/", 302)]
    assert "Your password was changed" in done.content.decode()
    assert "Your password was changed" not in client.get("/portal/settings/").content.decode(), "said once"


def test_logging_out_lands_on_the_districts_login_page_saying_so(client, fjordvik):
    logged_in(client, fjordvik)
    out = client.post("/portal/logout/", follow=True)
    assert out.redirect_chain == [("/portal/fjordvik/login/", 302)]
    text = out.content.decode()
    assert "You are logged out." in text and "Fjordvik District" in text
    assert client.get("/portal/students/").status_code == 302, "the session has ended"
    assert "You are logged out." not in client.get("/portal/fjordvik/login/").content.decode(), "said once"


def test_signing_out_everywhere_lands_on_the_districts_login_page_saying_so(client, fjordvik):
    logged_in(client, fjordvik)
    out = client.post("/portal/settings/sign-out-everywhere/", follow=True)
    assert out.redirect_chain == [("/portal/fjordvik/login/", 302)]
    assert "You are logged out on every device." in out.content.decode()


def test_the_confirmation_cannot_be_written_into_the_address(client, fjordvik):
    """The text comes from a signed message, not from the query string: a link cannot make the page say it."""
    page = client.get("/portal/fjordvik/login/?message=You+are+logged+out.&logged_out=1")
    assert "You are logged out." not in page.content.decode()


def test_an_activation_error_reads_as_a_sentence(client, fjordvik):
    """Domain messages are lower-case clauses (the CLI and API compose them); shown alone they start with a
    capital."""
    account = Account.objects.get(district=fjordvik, person__sis_code="mor")
    lifecycle.provision_account(account, actor="test")
    welcome = make_token(Invitation.objects.filter(account=account).latest("pk"))
    page = client.post(f"/portal/activate/{welcome}/",
                       {"username": "kari h", "password": PASSWORD, "password2": PASSWORD})  # fmt: skip
    assert page.status_code == 400 and "<li>A username cannot contain" in page.content.decode()
