"""What the console says when a form is sent incomplete or wrong, and how it lists what it is about to do: an
empty selection leads back to the filtered account list, the confirmation lists accounts in the list's order,
the audit log and the doctor name the field to fix, and messages from the domain read as sentences."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from schoolgate.accounts.models import Account
from tests.builders import write_oneroster
from tests.factories import log_in_admin, make_admin

ORGS = [{"sourcedId": "north", "name": "North High", "type": "school"}]
# Listed so that the database's row order is not the name order: Davud before Amina, "baker" (lower case)
# after "Carter" in a plain binary sort.
PARENTS = [
    ("p1", "Davud", "Adilović"),
    ("p2", "Zoe", "Carter"),
    ("p3", "Amina", "Adilović"),
    ("p4", "Ben", "baker"),
]


@pytest.fixture
def admin(client, district, cli, tmp_path, settings):
    settings.SCHOOLGATE_REPORTS_DIR = tmp_path / "reports"
    users = [{"sourcedId": "k1", "role": "student", "orgSourcedIds": "north",
              "agentSourcedIds": ",".join(code for code, _, _ in PARENTS), "familyName": "Kid"}]  # fmt: skip
    users += [
        {"sourcedId": code, "role": "parent", "orgSourcedIds": "north", "givenName": given, "familyName": family,
         "email": f"{code}@example.org"}
        for code, given, family in PARENTS
    ]  # fmt: skip
    cli("sync", district.slug, write_oneroster(tmp_path / "set", users=users, orgs=ORGS), "--json")
    log_in_admin(client, make_admin(district))
    return client


def rows(response) -> list[int]:
    return [int(m) for m in re.findall(rb'data-account="(\d+)"', response.content)]


def test_nothing_selected_leads_back_to_the_filtered_list(admin, district):
    response = admin.post(
        f"/console/{district.slug}/accounts/action/", {"action": "provision", "kind": "contact", "q": "Adil"}
    )
    assert response.status_code == 400 and b"Tick at least one account" in response.content
    back = re.search(rb'<a href="([^"]+)">Back to the account list</a>', response.content)
    assert back, "a way back to the list, not only the dashboard"
    url = urlsplit(back.group(1).decode().replace("&amp;", "&"))
    assert url.path == f"/console/{district.slug}/accounts/"
    assert parse_qs(url.query) == {"kind": ["contact"], "q": ["Adil"]}, "the filters are kept"
    assert admin.get(url.geturl()).status_code == 200


def test_the_confirmation_lists_accounts_in_the_lists_name_order(admin, district):
    listed = admin.get(f"/console/{district.slug}/accounts/", {"kind": "contact"})
    assert [Account.objects.get(pk=pk).person.sis_code for pk in rows(listed)] == ["p3", "p1", "p4", "p2"], (
        "Adilović Amina, Adilović Davud, baker, Carter"
    )
    ticked = sorted(rows(listed), reverse=True)  # the order of the ticks does not matter
    confirm = admin.post(
        f"/console/{district.slug}/accounts/action/",
        {"action": "provision", "account": [str(pk) for pk in ticked]},
    )
    assert confirm.status_code == 200 and rows(confirm) == rows(listed)
    assert "Adilović, Amina" in confirm.content.decode(), "names as the list shows them"
    every = admin.post(f"/console/{district.slug}/accounts/action/", {"action": "provision", "scope": "all",
                                                                       "kind": "contact"})  # fmt: skip
    assert rows(every) == rows(listed)
    assert f'href="/console/{district.slug}/accounts/?kind=contact">Cancel' in every.content.decode()


@pytest.mark.parametrize(("field", "label"), [("since", "From"), ("until", "To")])
def test_the_audit_log_rejects_a_date_it_cannot_read(admin, district, field, label):
    response = admin.get(f"/console/{district.slug}/audit/", {field: "notadate"})
    assert response.status_code == 400
    error = re.search(rb'<p class="error" role="alert">([^<]+)</p>', response.content).group(1).decode()
    assert f"“{label}”" in error and "YYYY-MM-DD" in error and "notadate" in error, error
    assert error[0].isupper()
    assert admin.get(f"/console/{district.slug}/audit/", {field: "2025-09-01"}).status_code == 200


def test_the_doctor_asks_for_someone_when_the_form_is_empty(admin, district):
    url = f"/console/{district.slug}/doctor/"
    first_visit = admin.get(url)
    assert first_visit.status_code == 200 and b'role="alert"' not in first_visit.content
    empty = admin.get(url, {"username": "", "email": "", "person": "", "student": ""})
    assert empty.status_code == 400
    assert b"Enter a username, an e-mail address or a SIS code" in empty.content
    only_student = admin.get(url, {"username": " ", "email": "", "person": "", "student": "k1"})
    assert only_student.status_code == 400 and b"Enter a username" in only_student.content


def test_messages_from_the_domain_start_with_a_capital_letter(admin, district):
    doctor = admin.get(f"/console/{district.slug}/doctor/", {"person": "nobody"})
    assert doctor.status_code == 400 and b"No person &#x27;nobody&#x27; in this district" in doctor.content
    listing = admin.get(f"/console/{district.slug}/accounts/", {"state": "sleeping"})
    assert listing.status_code == 400 and b"Unknown state" in listing.content
    page_size = admin.get(f"/console/{district.slug}/accounts/", {"per_page": "lots"})
    assert page_size.status_code == 400 and b"invalid literal" not in page_size.content
    assert b"Per page" in page_size.content
