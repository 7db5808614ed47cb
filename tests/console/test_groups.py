"""Defining an account group from the console's Generate page: the "New group" form, for admins who may
generate accounts, through the same domain function as `schoolgate group add`."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from schoolgate.accounts.groups import describe
from schoolgate.accounts.models import AccountGroup
from schoolgate.admins import roles
from schoolgate.core.models import AuditEvent, School
from tests.factories import log_in_admin, make_admin, make_district

FORM = {"name": "Parents", "audience": "contact", "schools": ["north"], "grades": "", "usernames": "scheme",
        "scheme": "{first:1}{last}{counter}", "max_length": "20", "passwords": "generated", "must_change": "off",
        "min_length": "12"}  # fmt: skip


@pytest.fixture
def schools(district):
    for code, name in (("north", "North High"), ("south", "South Middle")):
        School.objects.create(district=district, sis_code=code, name=name, org_type="school")
    return district


@pytest.fixture
def admin(client, schools):
    log_in_admin(client, make_admin(schools))
    return client


def page(district) -> str:
    return f"/console/{district.slug}/generate/"


def new(district) -> str:
    return f"/console/{district.slug}/generate/new/"


def form_html(response) -> str:
    found = re.search(r'<form[^>]*id="new-group".*?</form>', response.content.decode(), re.S)
    assert found, "the New group form is on the page"
    return found.group(0)


def test_the_generate_page_offers_the_new_group_form(admin, schools):
    response = admin.get(page(schools))
    assert response.status_code == 200
    content = response.content.decode()
    assert "schoolgate group add" not in content, "no shell needed"
    assert 'href="#new-group"' in content, "the empty list points to the form"
    form = form_html(response)
    assert f'action="{new(schools)}"' in form and 'method="post"' in form
    assert 'name="csrfmiddlewaretoken"' in form
    for name in ("name", "grades", "scheme", "max_length", "min_length"):
        assert f'name="{name}"' in form, name
    for name in ("audience", "usernames", "passwords", "must_change"):
        assert f'<select id="group-{name}" name="{name}"' in form, name
    assert re.search(r'<select id="group-schools" name="schools" multiple', form)
    assert '<option value="north">North High (north)</option>' in form
    assert '<option value="south">South Middle (south)</option>' in form
    assert "{first:1}" in form and "{counter}" in form, "a hint of the scheme language"


def test_posting_the_form_defines_the_group(admin, schools):
    response = admin.post(new(schools), {**FORM, "schools": ["north", "south"], "grades": "09, 10 11"})
    group = AccountGroup.objects.get(district=schools)
    assert response.status_code == 302 and response["Location"] == f"{page(schools)}{group.pk}/", (
        "the preview"
    )
    assert describe(group) == {
        **FORM, "schools": ["north", "south"], "grades": ["09", "10", "11"], "max_length": 20, "min_length": 12,
        "must_change": False,
    }  # fmt: skip
    assert AuditEvent.objects.get(action="group.added").actor == "admin:ada@example.org"
    listed = admin.get(page(schools)).content.decode()
    assert f'href="{page(schools)}{group.pk}/">Parents</a>' in listed
    assert admin.get(response["Location"]).status_code == 200


def test_a_bad_scheme_is_named_beside_its_field_and_the_input_is_kept(admin, schools):
    response = admin.post(new(schools), {**FORM, "scheme": "{first}.{nickname}", "grades": "09"})
    assert response.status_code == 400
    assert not AccountGroup.objects.exists() and not AuditEvent.objects.filter(action="group.added").exists()
    form = form_html(response)
    error = re.search(r'<p class="error" id="group-scheme-error">([^<]*)</p>', form)
    assert error and "unknown field {nickname}" in error.group(1)
    assert 'aria-invalid="true" aria-describedby="group-scheme-error' in form
    assert 'value="{first}.{nickname}"' in form and 'value="Parents"' in form and 'value="09"' in form
    assert 'value="20"' in form and 'value="12"' in form
    assert '<option value="north" selected>' in form and '<option value="south">' in form
    assert '<option value="generated" selected>' in form and '<option value="off" selected>' in form
    assert 'id="group-name-error"' not in form, "only the wrong field carries an error"


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"schools": ["north", "atlantis"]}, "schools", "No school &#x27;atlantis&#x27;"),
        ({"max_length": "twenty"}, "max_length", "whole number"),
        ({"min_length": "4"}, "min_length", "between 8 and 128"),
        ({"name": ""}, "name", "needs a name"),
        ({"audience": "parent"}, "audience", "&#x27;parent&#x27;"),
        ({"must_change": "maybe"}, "must_change", "on or off"),
    ],
)
def test_each_wrong_field_is_named_beside_it(admin, schools, change, field, says):
    response = admin.post(new(schools), {**FORM, **change})
    assert response.status_code == 400 and not AccountGroup.objects.exists()
    error = re.search(rf'<p class="error" id="group-{field}-error">([^<]*)</p>', form_html(response))
    assert error and says in error.group(1), response.content.decode()


def test_a_duplicate_name_is_named(admin, schools):
    assert admin.post(new(schools), FORM).status_code == 302
    again = admin.post(new(schools), {**FORM, "audience": "student"})
    assert again.status_code == 400 and 'id="group-name-error"' in again.content.decode()
    assert AccountGroup.objects.get().audience == "contact"


@pytest.mark.parametrize("role", [roles.AUDITOR, roles.SCHOOL_ADMIN, roles.BILLING])
def test_an_admin_who_may_not_generate_is_refused(client, schools, role):
    limited_to = ("north",) if role == roles.SCHOOL_ADMIN else ()
    log_in_admin(client, make_admin(schools, "kim@example.org", role, limited_to))
    assert client.get(page(schools)).status_code == 403
    assert client.post(new(schools), FORM).status_code == 403
    assert not AccountGroup.objects.exists()


def test_an_admin_of_another_district_gets_404_and_cannot_name_its_schools(client, schools):
    other = make_district("other", name="Other")
    log_in_admin(client, make_admin(other, "olly@example.org"))
    assert client.post(new(schools), FORM).status_code == 404, "another district's page"
    mine = client.post(new(other), FORM)  # "north" is a school of the first district, not of "other"
    assert mine.status_code == 400 and "No school &#x27;north&#x27; in Other" in mine.content.decode()
    assert not AccountGroup.objects.exists()


def test_the_form_needs_its_csrf_token(schools):
    browser = Client(enforce_csrf_checks=True)
    log_in_admin(browser, make_admin(schools))
    assert browser.post(new(schools), FORM).status_code == 403
    assert not AccountGroup.objects.exists()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form_html(browser.get(page(schools))))
    assert browser.post(new(schools), {**FORM, "csrfmiddlewaretoken": token.group(1)}).status_code == 302
    assert AccountGroup.objects.filter(district=schools).count() == 1


def test_a_school_limited_admin_defines_groups_of_their_schools_only(client, schools, monkeypatch):
    """No built-in school-limited role may generate today; should one be given the permission, the groups it
    defines stay within its schools (a group of every school would reach other schools' people)."""
    monkeypatch.setitem(roles.ROLES, roles.SCHOOL_ADMIN, roles.SUPPORT)
    log_in_admin(client, make_admin(schools, "sally@example.org", roles.SCHOOL_ADMIN, ("north",)))
    form = form_html(client.get(page(schools)))
    assert 'value="north"' in form and 'value="south"' not in form, "only their schools are offered"
    for schools_sent in ([], ["south"]):
        refused = client.post(new(schools), {**FORM, "schools": schools_sent})
        assert refused.status_code == 400 and 'id="group-schools-error"' in refused.content.decode()
    assert not AccountGroup.objects.exists()
    assert client.post(new(schools), FORM).status_code == 302
    assert AccountGroup.objects.get().school_codes == ["north"]
