"""The admins page's forms as a Primary uses them: a refused invitation comes back as it was filled in, with
the reason beside the field it is about; removing an admin is asked again, naming them, before anything
happens; each row's controls say whose they are. And the invitation page states the password rule the
configured validators apply, not a number of its own."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from schoolgate.admins import roles
from schoolgate.admins.delegation import invite_admin
from schoolgate.admins.models import AdminInvitation, AdminMembership, PrimaryChangeRequest
from schoolgate.core.models import School
from tests.factories import log_in_admin, make_admin


class Elements(HTMLParser):
    """Every element with an id: its tag, attributes and (for labels, paragraphs, spans) its text."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict] = {}
        self._open: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "option" and self._open and self._open[-1]["tag"] == "select":
            self._open[-1]["options"].append((a.get("value"), "selected" in a))
        if a.get("id"):
            element = {"tag": tag, "attrs": a, "text": "", "options": []}
            self.by_id[a["id"]] = element
            if tag in ("label", "p", "span", "select", "button"):
                self._open.append(element)

    def handle_data(self, data: str) -> None:
        for element in self._open:
            if element["tag"] != "select":
                element["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1]["tag"] == tag:
            self._open.pop()

    def name_of(self, element_id: str) -> str:
        """The accessible name of a control named by aria-labelledby (ids in order, texts joined)."""
        ids = self.by_id[element_id]["attrs"]["aria-labelledby"].split()
        return " ".join(self.by_id[i]["text"].strip() for i in ids)

    def selected(self, element_id: str) -> list[str]:
        return [value for value, chosen in self.by_id[element_id]["options"] if chosen]


def elements(response) -> Elements:
    parsed = Elements()
    parsed.feed(response.content.decode())
    return parsed


@pytest.fixture
def primary(client, district):
    log_in_admin(client, make_admin(district, "pat@example.org", roles.PRIMARY))
    return client


@pytest.fixture
def schools(district):
    for code, name in (("sch-1", "Hillside Primary"), ("sch-2", "Riverside High")):
        School.objects.create(district=district, sis_code=code, name=name, org_type="school")


def manage(client, district, **data):
    return client.post(reverse("console:admins_manage", kwargs={"slug": district.slug}), data)


# -- the invitation form keeps what was typed and names the field at fault ----------------------------------


def test_a_school_admin_without_a_school_keeps_the_form_and_marks_the_schools(primary, district, schools):
    refused = manage(primary, district, action="invite", email="kim@example.org", role=roles.SCHOOL_ADMIN)
    assert refused.status_code == 400 and not AdminInvitation.objects.exists()
    page = elements(refused)
    assert page.by_id["invite-email"]["attrs"]["value"] == "kim@example.org"
    assert page.selected("invite-role") == [roles.SCHOOL_ADMIN]
    schools_select = page.by_id["invite-schools"]["attrs"]
    assert schools_select.get("aria-invalid") == "true"
    assert schools_select.get("aria-describedby") == "invite-schools-error"
    assert page.by_id["invite-schools-error"]["text"] == "A school admin needs at least one school"
    assert "aria-invalid" not in page.by_id["invite-email"]["attrs"]
    table = refused.content.decode().split("<table>", 1)[0]
    assert "needs at least one school" not in table.split("<h1>", 1)[1], "not above the admin table"


def test_schools_for_another_level_are_kept_and_marked(primary, district, schools):
    refused = manage(primary, district, action="invite", email="kim@example.org", role=roles.SUPPORT_ROLE,
                     schools=["sch-2"])  # fmt: skip
    page = elements(refused)
    assert refused.status_code == 400 and page.selected("invite-schools") == ["sch-2"]
    assert page.selected("invite-role") == [roles.SUPPORT_ROLE]
    assert page.by_id["invite-schools-error"]["text"].startswith("Only a school admin is limited to schools")


@pytest.mark.parametrize("email", ["not-an-address", "pat@example.org"])
def test_a_bad_or_taken_address_is_marked_on_the_email(primary, district, schools, email):
    """An address mail cannot be sent to, and one that already administers the district."""
    refused = manage(
        primary, district, action="invite", email=email, role=roles.SCHOOL_ADMIN, schools=["sch-1"]
    )
    assert refused.status_code == 400 and not AdminInvitation.objects.exists()
    page = elements(refused)
    assert page.by_id["invite-email"]["attrs"].get("aria-invalid") == "true"
    assert page.by_id["invite-email"]["attrs"]["value"] == email
    assert page.by_id["invite-email-error"]["text"][0].isupper()
    assert page.selected("invite-role") == [roles.SCHOOL_ADMIN] and page.selected("invite-schools") == [
        "sch-1"
    ]
    assert "invite-schools-error" not in page.by_id


def test_a_refused_change_of_primary_keeps_the_form(primary, district):
    refused = manage(primary, district, action="primary", email="new@example.org", reason=" ")
    assert refused.status_code == 400 and not PrimaryChangeRequest.objects.exists()
    page = elements(refused)
    assert page.by_id["primary-email"]["attrs"]["value"] == "new@example.org"
    assert page.by_id["primary-reason"]["attrs"].get("aria-invalid") == "true"
    assert page.by_id["primary-reason-error"]["text"].startswith("Say why the Primary should change")


def test_an_invitation_that_is_sent_still_leads_back_to_the_page(primary, district, schools):
    sent = manage(primary, district, action="invite", email="kim@example.org", role=roles.SCHOOL_ADMIN,
                  schools=["sch-1"])  # fmt: skip
    assert sent.status_code == 302 and AdminInvitation.objects.get().school_codes == ["sch-1"]
    page = elements(primary.get(sent["Location"]))
    assert page.by_id["invite-email"]["attrs"]["value"] == "" and page.selected("invite-schools") == []


# -- removing an admin is confirmed, naming them -------------------------------------------------------------


def test_removing_an_admin_asks_first_naming_them_then_removes(primary, district, schools):
    sam = make_admin(district, "sam@example.org", roles.SCHOOL_ADMIN, ("sch-2",))
    membership = AdminMembership.objects.get(user=sam)
    asked = manage(primary, district, action="remove", membership=membership.pk)
    assert asked.status_code == 200
    assert AdminMembership.objects.filter(pk=membership.pk).exists(), "nothing removed yet"
    text = " ".join(re.sub(r"<[^>]+>", " ", asked.content.decode()).split())
    assert "Remove sam@example.org?" in text and "School admin: Riverside High" in text
    main = asked.content.decode().split("<main>", 1)[1]  # the header's Log out is a form too
    form = re.search(r'<form method="post" action="([^"]+)">(.*?)</form>', main, re.S)
    assert form.group(1) == reverse("console:admins_manage", kwargs={"slug": district.slug})
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form.group(2)))
    fields.pop("csrfmiddlewaretoken")
    assert fields == {"action": "remove", "membership": str(membership.pk), "confirmed": "yes"}
    assert "Confirm: remove sam@example.org" in form.group(2)
    assert f'href="{reverse("console:admins", kwargs={"slug": district.slug})}">Cancel' in form.group(2)

    removed = manage(primary, district, **fields)
    assert removed.status_code == 302 and not AdminMembership.objects.filter(pk=membership.pk).exists()


def test_the_primary_is_refused_at_once_not_after_a_confirmation(primary, district):
    own = AdminMembership.objects.get(role=roles.PRIMARY, district=district)
    refused = manage(primary, district, action="remove", membership=own.pk)
    assert refused.status_code == 400 and b"cannot be removed" in refused.content


def test_each_rows_controls_name_their_admin(primary, district, schools):
    make_admin(district, "sam@example.org", roles.SUPPORT_ROLE)
    make_admin(district, "kim@example.org", roles.AUDITOR)
    page = elements(primary.get(reverse("console:admins", kwargs={"slug": district.slug})))
    for email in ("sam@example.org", "kim@example.org"):
        pk = AdminMembership.objects.get(user__username=email).pk
        assert page.name_of(f"role-{pk}") == f"Level for {email}"
        assert page.name_of(f"schools-{pk}") == f"Schools (for School admin) for {email}"
        assert page.by_id[f"role-label-{pk}"]["attrs"]["for"] == f"role-{pk}", "the label still labels it"
    html = primary.get(reverse("console:admins", kwargs={"slug": district.slug})).content.decode()
    assert 'Remove<span class="visually-hidden"> sam@example.org</span>' in html


# -- the invitation page states the configured password rule -------------------------------------------------


@pytest.mark.parametrize("length", [10, 14])
def test_the_invitation_states_the_configured_minimum_length(district, settings, length):
    settings.AUTH_PASSWORD_VALIDATORS = [
        {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
         "OPTIONS": {"min_length": length}},
        {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    ]  # fmt: skip
    _, token = invite_admin(district, "sam@example.org", roles.SUPPORT_ROLE, actor="test")
    page = Client().get(reverse("console:invitation", kwargs={"token": token})).content.decode()
    assert f"at least {length} characters" in page
    assert len(re.findall(r"at least \d+ characters", page)) == 1


def test_the_invitation_states_the_projects_own_setting(district):
    from django.conf import settings

    (length,) = [v["OPTIONS"]["min_length"] for v in settings.AUTH_PASSWORD_VALIDATORS
                 if v["NAME"].endswith("MinimumLengthValidator")]  # fmt: skip
    _, token = invite_admin(district, "sam@example.org", roles.SUPPORT_ROLE, actor="test")
    page = Client().get(reverse("console:invitation", kwargs={"token": token})).content.decode()
    assert f"at least {length} characters" in page
    url = reverse("console:invitation", kwargs={"token": token})
    short, enough = ("quartz-lemon-tide-" * 3)[: length - 1], ("quartz-lemon-tide-" * 3)[:length]
    refused = Client().post(url, {"password": short, "password2": short})
    assert refused.status_code == 400 and "too short" in refused.content.decode()
    assert Client().post(url, {"password": enough, "password2": enough}).status_code == 302, (
        "the number the page states is the one the validators apply"
    )
