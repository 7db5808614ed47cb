"""Error pages people see in a browser: a form's address opened directly (405), an address that leads nowhere
(404), a console page the admin's role does not allow (403) and a server fault (500) answer with a page in the
site's style that says what happened and links somewhere useful; the JSON surfaces (/api/, /scim/, /oauth/) keep
their own answers. Every page names an icon, so browsers do not ask for /favicon.ico.

pytest-django runs with DEBUG off, as production does: only then does Django render 404.html and 500.html."""

from __future__ import annotations

import re

import pytest
from django.test import RequestFactory

from schoolgate.sync.models import SyncRun
from tests.builders import write_oneroster
from tests.factories import log_in_admin, make_admin

ORGS = [{"sourcedId": "north", "name": "North High", "type": "school"}]
USERS = [
    {"sourcedId": "k0", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": "p0", "familyName": "Kid"},
    {"sourcedId": "p0", "role": "parent", "orgSourcedIds": "north", "familyName": "Parent", "email": "p0@example.org"},
]  # fmt: skip


@pytest.fixture
def admin(client, district, cli, tmp_path):
    cli("sync", district.slug, write_oneroster(tmp_path / "set", users=USERS, orgs=ORGS), "--json")
    log_in_admin(client, make_admin(district))
    return client


def links(response) -> list[str]:
    return [href.decode() for href in re.findall(rb'<a href="([^"]+)"', response.content)]


def is_site_page(response) -> bool:
    """A whole HTML page with the site's stylesheet and icon, not the browser's (or Django's) bare error."""
    body = response.content
    return (
        response["Content-Type"].startswith("text/html")
        and body.lstrip().lower().startswith(b"<!doctype html>")
        and re.search(rb'<link rel="stylesheet" href="/static/(console/console|portal/portal)\.css"', body)
        is not None
        and b'rel="icon"' in body
    )


@pytest.mark.parametrize(
    "path", ["accounts/action/", "sync/upload/", "people/k0/override/", "sync/{run}/decide/"]
)
def test_opening_a_console_forms_address_says_it_takes_a_form(admin, district, path):
    url = f"/console/{district.slug}/" + path.format(run=SyncRun.objects.filter(district=district).first().pk)
    response = admin.get(url)
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert is_site_page(response), response.content[:300]
    assert b"takes a form" in response.content
    assert f"/console/{district.slug}/" in links(response), "back to the district's console"


def test_the_405_page_of_pages_outside_a_district_links_home(client, admin, district):
    console_logout = admin.get("/console/logout/")
    assert console_logout.status_code == 405 and is_site_page(console_logout)
    assert "/console/" in links(console_logout)
    portal_logout = client.get("/portal/logout/")
    assert portal_logout.status_code == 405 and is_site_page(portal_logout)
    assert "/portal/" in links(portal_logout) and b"takes a form" in portal_logout.content


def test_the_json_surfaces_keep_their_own_405(client, district):
    api = client.put("/api/v1/people")
    assert api.status_code == 405 and api["Content-Type"].startswith("application/json")
    assert api.json()["error"]["code"] == "method_not_allowed"
    oauth = client.get("/oauth/token/")
    assert oauth.status_code == 405 and b"<html" not in oauth.content.lower()
    scim = client.get(f"/scim/v2/{district.slug}/Users")
    assert b"<html" not in scim.content.lower()


@pytest.mark.parametrize("path", ["/", "/portal/demo/", "/portal/login/", "/console/no/such/page/"])
def test_an_address_that_leads_nowhere_gets_a_page_with_a_way_home(client, db, path):
    response = client.get(path)
    assert response.status_code == 404 and is_site_page(response), response.content[:300]
    assert b"Page not found" in response.content
    assert {"/portal/", "/console/"} <= set(links(response))


@pytest.mark.parametrize("path", ["people/nobody/", "sync/999999/", "jobs/999999/"])
def test_an_unknown_person_run_or_job_links_back_to_the_districts_console(admin, district, path):
    response = admin.get(f"/console/{district.slug}/{path}")
    assert response.status_code == 404 and is_site_page(response)
    assert b"console.css" in response.content, "a console address gets the console's look"
    assert f"/console/{district.slug}/" in links(response)


@pytest.mark.parametrize("path", ["accounts/", "people/k0/", "audit/"])
def test_a_page_the_role_does_not_allow_says_so_and_links_back_to_the_districts_console(
    client, district, cli, tmp_path, path
):
    cli("sync", district.slug, write_oneroster(tmp_path / "set", users=USERS, orgs=ORGS), "--json")
    log_in_admin(client, make_admin(district, email="bill@example.org", role="billing"))
    response = client.get(f"/console/{district.slug}/{path}")
    assert response.status_code == 403 and is_site_page(response), response.content[:300]
    assert b"console.css" in response.content, "a console address gets the console's look"
    assert b"Not allowed" in response.content
    assert b"Invoices (billing)" in response.content, "the refusal names the admin's role"
    assert {f"/console/{district.slug}/", "/console/"} <= set(links(response)), "back to what they may use"


def test_the_json_surfaces_keep_their_own_403(client, district, cli):
    def token(scope: str) -> str:
        created = cli("token", "create", district.slug, "--name", scope, "--level", "billing", "--scope", scope,
                      "--json")  # fmt: skip
        assert created.code == 0, created.stderr
        return created.json["token"]

    api = client.get("/api/v1/people", HTTP_AUTHORIZATION=f"Bearer {token('api')}")
    assert api.status_code == 403 and api["Content-Type"].startswith("application/json")
    assert api.json()["error"]["code"] == "forbidden"
    scim = client.get(f"/scim/v2/{district.slug}/Users", HTTP_AUTHORIZATION=f"Bearer {token('scim')}")
    assert scim.status_code == 403 and scim["Content-Type"].startswith("application/scim+json")
    assert b"<html" not in scim.content.lower()


def test_an_unknown_api_path_is_still_json(client, db):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")


def test_a_server_fault_gets_a_page_with_a_way_home(db):
    from django.views.defaults import server_error

    response = server_error(RequestFactory().get("/console/"))
    assert response.status_code == 500 and b"<!doctype html>" in response.content.lower()
    assert b"Something went wrong" in response.content
    assert b'href="/portal/"' in response.content and b'href="/console/"' in response.content


def test_every_page_names_an_icon_that_is_served(client, admin, district):
    icons = set()
    for response in (admin.get(f"/console/{district.slug}/"), client.get("/portal/")):
        assert response.status_code == 200
        found = re.search(rb'<link rel="icon" href="([^"]+)"', response.content)
        assert found, "without it the browser asks for /favicon.ico, which does not exist"
        icons.add(found.group(1).decode())
    (icon,) = icons
    served = client.get(icon)
    assert served.status_code == 200 and served["Content-Type"] == "image/svg+xml"


def test_error_pages_do_not_need_the_collected_static_files(client, db, settings, tmp_path):
    """An error page must render when the static files' manifest is missing or stale, as the bare pages did."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    settings.STATIC_ROOT = tmp_path / "static-not-collected"
    from django.views.defaults import server_error

    assert client.get("/portal/no-such-district/").status_code == 404
    assert client.get("/portal/logout/").status_code == 405
    assert server_error(RequestFactory().get("/")).status_code == 500
