"""The person page's forms after a refusal: the Set override form comes back as the admin filled it in (who,
which field, on or off, the reason, until when), with the reason it was refused beside the field at fault, so
that correcting that one field and sending again sets the override the admin meant. A date the console cannot
read is said in words, not as a Python message. The Transfer login form keeps the code typed."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account
from schoolgate.people.models import Override
from tests.builders import write_oneroster
from tests.factories import log_in_admin, make_admin

ORGS = [{"sourcedId": "north", "name": "North High", "type": "school"}]
USERS = [
    {"sourcedId": "kid", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": "mum,dad",
     "givenName": "Kim", "familyName": "Able"},
    {"sourcedId": "mum", "role": "parent", "orgSourcedIds": "north", "givenName": "Mia", "familyName": "Able"},
    {"sourcedId": "dad", "role": "parent", "orgSourcedIds": "north", "givenName": "Dan", "familyName": "Able"},
]  # fmt: skip


class PageForm(HTMLParser):
    """The form of a page that posts to `action` (not an override's inline Remove button), as a browser would
    send it; its fields' attributes by name; the text of each error paragraph by id."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside = action, False
        self.values: dict[str, str] = {}
        self.attrs: dict[str, dict] = {}
        self.errors: dict[str, str] = {}
        self._options: dict[str, list[list]] = {}  # select name -> [[value, selected], ...]
        self._select = self._option = self._error = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action and a.get("class") != "inline"
        elif not self.inside:
            return
        elif tag == "input" and a.get("name"):
            self.values[a["name"]], self.attrs[a["name"]] = a.get("value") or "", a
        elif tag == "select":
            self._select, self.attrs[a["name"]] = a["name"], a
            self._options[a["name"]] = []
        elif tag == "option" and self._select:
            self._options[self._select].append([a.get("value"), "selected" in a])
            self._option = self._options[self._select][-1] if a.get("value") is None else None
        elif tag == "p" and a.get("class") == "error":
            self._error = a["id"]
            self.errors[self._error] = ""

    def handle_data(self, data: str) -> None:
        if self._error:
            self.errors[self._error] += data
        if self._option is not None:  # <option>text</option>: the text is the value
            self._option[0], self._option = data, None

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select:
            options = self._options[self._select]
            chosen = [value for value, selected in options if selected] or [options[0][0]]
            self.values[self._select], self._select = chosen[0], None
        elif tag == "p":
            self._error = None
        elif tag == "form":
            self.inside = False


def form_of(response, action: str) -> PageForm:
    form = PageForm(action)
    form.feed(response.content.decode())
    assert form.values, f"no form posting to {action}"
    return form


@pytest.fixture
def admin(client, district, cli, tmp_path):
    cli("sync", district.slug, write_oneroster(tmp_path / "set", users=USERS, orgs=ORGS), "--json")
    log_in_admin(client, make_admin(district))
    return client


def override_url(district, page: str = "kid") -> str:
    return f"/console/{district.slug}/people/{page}/override/"


SENT = {"student": "kid", "contact": "mum", "field": "reports", "value": "off", "reason": "fees unpaid"}


def test_an_expiry_already_past_keeps_the_form_and_says_so_beside_until(admin, district):
    # Mum is the second contact in the list and reports the second field: neither is what a blank form shows.
    blank = form_of(admin.get(f"/console/{district.slug}/people/kid/"), override_url(district))
    assert (blank.values["contact"], blank.values["field"], blank.values["value"]) == ("dad", "portal", "on")

    refused = admin.post(override_url(district), {**SENT, "until": "2000-01-01"})
    assert refused.status_code == 400 and not Override.objects.exists()
    form = form_of(refused, override_url(district))
    assert {k: form.values[k] for k in (*SENT, "until")} == {**SENT, "until": "2000-01-01"}, "as sent"
    assert "is already past" in form.errors["o-until-error"] and form.errors["o-until-error"][0].isupper()
    assert form.attrs["until"].get("aria-invalid") == "true"
    assert form.attrs["until"].get("aria-describedby") == "o-until-error"
    assert all("aria-invalid" not in form.attrs[name] for name in ("contact", "field", "reason"))

    # The admin corrects the date only and sends the form again: the override they meant is set.
    fixed = admin.post(override_url(district), {**form.values, "until": "2999-06-30"})
    assert fixed.status_code == 302
    override = Override.objects.get()
    assert (override.link.contact.sis_code, override.field, override.value, override.reason) == (
        "mum", "reports", False, "fees unpaid",
    )  # fmt: skip
    assert override.expires_at.date().isoformat() == "2999-06-30"


@pytest.mark.parametrize("until", ["2020-13-45", "30/06/2027", "next week"])
def test_a_date_the_console_cannot_read_is_said_in_words(admin, district, until):
    refused = admin.post(override_url(district), {**SENT, "until": until})
    assert refused.status_code == 400 and not Override.objects.exists()
    text = refused.content.decode()
    assert "time data" not in text and "does not match format" not in text and "%Y" not in text
    form = form_of(refused, override_url(district))
    assert form.errors["o-until-error"] == "Until must be a date such as 2027-06-30."
    assert form.attrs["until"].get("aria-invalid") == "true"
    assert {k: form.values[k] for k in SENT} == SENT and form.values["until"] == until


def test_a_missing_reason_is_marked_on_the_reason(admin, district):
    refused = admin.post(override_url(district), {**SENT, "reason": "  "})
    assert refused.status_code == 400
    form = form_of(refused, override_url(district))
    assert (
        form.attrs["reason"].get("aria-invalid") == "true"
        and "needs a reason" in form.errors["o-reason-error"]
    )
    assert (form.values["contact"], form.values["field"], form.values["value"]) == ("mum", "reports", "off")


def test_a_refused_transfer_keeps_the_code_typed(admin, district, cli):
    cli("provision", district.slug, "mum", "--json")
    lifecycle.activate_account(Account.objects.get(person__sis_code="mum"), username="mia", password="x" * 12,
                               actor="test")  # fmt: skip
    action = f"/console/{district.slug}/people/mum/transfer/"
    refused = admin.post(action, {"to": "nobody"})
    assert refused.status_code == 400
    form = form_of(refused, action)
    assert form.values["to"] == "nobody" and form.attrs["to"].get("aria-invalid") == "true"
    assert "No person 'nobody'" in form.errors["t-to-error"]
