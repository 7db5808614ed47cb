"""Every console page refuses anyone who is not an admin: an anonymous visitor is sent to the console login,
and a guardian logged in to the portal gets the same (the portal session is not an admin session). Generated
from the URL patterns, so a new page cannot be forgotten. Portal pages that need a login send anonymous
visitors to the portal's front page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account
from schoolgate.console.urls import urlpatterns as console_patterns
from schoolgate.portal.urls import urlpatterns as portal_patterns
from tests.factories import family

PUBLIC = {"login", "logout"}
SAMPLE = {"slug": None, "code": "x1", "run_id": 1, "group_id": 1, "job_id": 1, "kind": "pdf", "token": "t"}


def console_urls(slug: str) -> list[tuple[str, str]]:
    urls = []
    for pattern in console_patterns:
        if pattern.name in PUBLIC:
            continue
        kwargs = {name: (slug if name == "slug" else SAMPLE[name]) for name in pattern.pattern.converters}
        urls.append((pattern.name, reverse(f"console:{pattern.name}", kwargs=kwargs)))
    return urls


@pytest.fixture
def guardian_client(client, district):
    _, (parent,) = family(district)
    from schoolgate.accounts.reconcile import reconcile
    from schoolgate.people.evaluation import evaluate_links, evaluate_people

    evaluate_links(district)
    evaluate_people(district)
    reconcile(district, actor="test")
    account = Account.objects.get(person=parent)
    lifecycle.provision_account(account, actor="test")
    lifecycle.activate_account(account, username="guardian", password="a long passphrase", actor="test")
    assert (
        client.post(
            f"/portal/{district.slug}/login/", {"identifier": "guardian", "password": "a long passphrase"}
        ).status_code
        == 302
    )
    assert client.get("/portal/students/").status_code == 200, "the guardian is logged in to the portal"
    return client


def test_the_generated_list_covers_every_console_page(district):
    names = {name for name, _ in console_urls(district.slug)}
    assert names >= {"dashboard", "accounts", "account_action", "person", "override", "sync", "sync_upload", "sync_run",
                     "sync_decide", "groups", "preview", "generate_start", "job", "job_report", "doctor",
                     "notifications", "audit", "home"}  # fmt: skip


def test_anonymous_visitors_are_sent_to_the_console_login(client, district):
    for name, url in console_urls(district.slug):
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == 302, (name, url, response.status_code)
            assert response["Location"].startswith("/console/login/"), (name, response["Location"])


def test_a_guardian_cannot_reach_admin_pages(guardian_client, district):
    for name, url in console_urls(district.slug):
        for method in (guardian_client.get, guardian_client.post):
            response = method(url)
            assert response.status_code == 302 and response["Location"].startswith("/console/login/"), (
                name,
                url,
            )
    assert guardian_client.get("/admin/").status_code == 302, "nor Django's admin site"


def test_portal_pages_need_a_portal_login(client, district):
    for pattern in portal_patterns:
        if pattern.name not in ("students", "settings", "password", "sign_out_everywhere"):
            continue
        response = client.get(reverse(f"portal:{pattern.name}"))
        assert response.status_code in (302, 405), pattern.name
        if response.status_code == 302:
            assert response["Location"] == reverse("portal:home")
