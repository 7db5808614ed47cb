"""End to end in a real browser: Debian's Chromium, driven by Playwright, against a live server.

An admin logs in, filters to ready_to_revoke and revokes with confirmation; a guardian opens the welcome link
from a captured e-mail, sets a password and sees exactly their permitted children; a held sync is confirmed.
Screenshots go to test-output/browser/. Without Chromium (apt-get install -y chromium) these tests skip.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account
from schoolgate.mail.sender import deliver_due
from schoolgate.sync.models import SyncRun
from tests.builders import write_oneroster
from tests.factories import ADMIN_PASSWORD, make_admin

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium): browser tests skipped"
)
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "browser"
ORGS = [{"sourcedId": "north", "name": "North High", "type": "school"}]
PASSWORD = "correct horse battery"


def users(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        rows += [
            {"sourcedId": f"k{i}", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": f"p{i}",
             "givenName": f"Kid{i}", "familyName": "Test"},
            {"sourcedId": f"p{i}", "role": "parent", "orgSourcedIds": "north", "givenName": f"Parent{i}",
             "familyName": "Test", "email": f"p{i}@example.org"},
        ]  # fmt: skip
    return rows


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make here are ordinary
    # synchronous calls, so Django's guard against using the ORM from async code does not apply.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )  # fmt: skip
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    refused = []  # the browser reports anything the Content-Security-Policy blocked on the console
    tab.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    yield tab
    context.close()
    assert refused == [], "the strict Content-Security-Policy blocked something the page needs"


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def admin_login(page, live_server, slug: str) -> None:
    """The district's Primary logs in: password, then the code their authenticator app shows."""
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from schoolgate.core.models import District

    user = make_admin(District.objects.get(slug=slug), "ada@example.org")
    page.goto(f"{live_server.url}/console/login/")
    page.get_by_label("Username").fill("ada@example.org")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Code").wait_for()
    device = TOTPDevice.objects.get(user=user)
    page.get_by_label("Code").fill(f"{totp(device.bin_key):06d}")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{live_server.url}/console/")


def everyone_active(cli, district) -> None:
    cli("provision", district.slug, "--all", "--json")
    for account in Account.objects.filter(district=district):
        lifecycle.activate_account(account, username=account.person.sis_code, password=PASSWORD, actor="test")


@pytest.mark.django_db(transaction=True)
def test_admin_filters_to_ready_to_revoke_and_revokes_with_confirmation(page, live_server, cli, tmp_path):
    district = cli("district", "add", "north", "North District", "--json").json["district"]
    cli("district", "set", "north", "--guard-minimum", "10", "--json")
    cli("sync", "north", write_oneroster(tmp_path / "a", users=users(5), orgs=ORGS), "--json")
    from schoolgate.core.models import District

    everyone_active(cli, District.objects.get(slug="north"))
    cli(
        "sync", "north", write_oneroster(tmp_path / "b", users=users(3), orgs=ORGS), "--json"
    )  # two families leave
    assert Account.objects.filter(state="ready_to_revoke").count() == 4

    admin_login(page, live_server, "north")
    page.get_by_role("link", name=district["name"]).click()
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Accounts").click()
    page.get_by_label("State").select_option("ready_to_revoke")  # htmx reloads the table
    from playwright.sync_api import expect

    # A locator assertion, not wait_for_function: that evaluates a string, which the strict CSP (no
    # 'unsafe-eval') refuses whenever the rows are not there on the first try.
    expect(page.locator("tr[data-account]")).to_have_count(4)
    shot(page, "1-accounts-ready-to-revoke")
    page.get_by_label("every account matching the filters").check()
    page.get_by_label("Action").select_option("revoke")
    page.get_by_role("button", name="Continue…").click()
    page.get_by_role("heading", name="Revoke access: 4 accounts").wait_for()
    shot(page, "2-confirm-revoke")
    assert Account.objects.filter(state="revoked").count() == 0, "nothing is revoked before confirming"
    page.get_by_role("button", name="Confirm: Revoke access for 4").click()
    page.locator("#job-status", has_text="done").wait_for()
    shot(page, "3-revoked")
    assert sorted(Account.objects.filter(state="revoked").values_list("person__sis_code", flat=True)) == [
        "k3", "k4", "p3", "p4"
    ]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_guardian_sets_a_password_from_the_welcome_email_and_sees_exactly_their_children(
    page, live_server, cli, tmp_path, smtp_server, settings
):
    settings.SCHOOLGATE_BASE_URL = live_server.url
    family = [
        {"sourcedId": "amy", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": "mum", "givenName": "Amy"},
        {"sourcedId": "ben", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": "mum", "givenName": "Ben"},
        {"sourcedId": "cat", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": "aunt", "givenName": "Cat"},
        {"sourcedId": "mum", "role": "parent", "orgSourcedIds": "north", "givenName": "Mia", "email": "mia@example.org"},
        {"sourcedId": "aunt", "role": "parent", "orgSourcedIds": "north", "email": "aunt@example.org"},
    ]  # fmt: skip
    cli("district", "add", "north", "North District", "--json")
    cli("sync", "north", write_oneroster(tmp_path / "a", users=family, orgs=ORGS), "--json")
    reason = ["--reason", "court order"]
    cli("override", "set", "north", "mum", "ben", "--field", "portal", "--value", "off", *reason, "--json")
    cli("override", "set", "north", "mum", "amy", "--field", "reports", "--value", "off", *reason, "--json")
    cli("provision", "north", "mum", "--json")
    deliver_due()
    (welcome,) = smtp_server.to("mia@example.org")
    text = welcome.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https?://\S+/portal/activate/\S+/", text).group(0)

    page.goto(link)
    shot(page, "4-welcome-link")
    page.get_by_label("Choose a username").fill("mia")
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("Type it again").fill(PASSWORD)
    page.get_by_role("button", name="Set up my login").click()
    page.get_by_role("heading", name="My students").wait_for()
    shot(page, "5-my-students")
    assert page.locator("[data-student]").evaluate_all("els => els.map(e => e.dataset.student)") == ["amy"]
    sections = page.locator("[data-student=amy] [data-section]").evaluate_all(
        "els => els.map(e => e.dataset.section)"
    )
    assert sections == ["assessments", "timetable", "attendance", "courses"], "reports are withheld for Amy"
    page.get_by_role("link", name="Settings").click()
    assert page.locator("#username").inner_text() == "mia"


@pytest.mark.django_db(transaction=True)
def test_a_held_sync_is_confirmed_from_the_console(page, live_server, cli, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    cli("district", "add", "north", "North District", "--json")
    cli("sync", "north", write_oneroster(tmp_path / "a", users=users(6), orgs=ORGS), "--json")
    from schoolgate.core.models import District

    everyone_active(cli, District.objects.get(slug="north"))
    leaving = write_oneroster(tmp_path / "b", users=users(3), orgs=ORGS, zip_to=tmp_path / "export.zip")

    admin_login(page, live_server, "north")
    page.goto(f"{live_server.url}/console/north/sync/")
    page.get_by_label("SIS export").set_input_files(str(leaving))
    page.get_by_role("button", name="Upload and sync").click()
    page.locator("#run-status", has_text="held").wait_for()
    shot(page, "6-held-run")
    assert page.get_by_role(
        "heading", name=re.compile("6 active or invited logins would be revoked")
    ).is_visible()
    assert Account.objects.filter(state="ready_to_revoke").count() == 0, "a held run applies nothing"
    page.get_by_role("button", name="Confirm and apply").click()
    page.locator("#run-status", has_text="applied").wait_for()
    shot(page, "7-confirmed")
    assert Account.objects.filter(state="ready_to_revoke").count() == 6
    assert SyncRun.objects.filter(status="confirmed").count() == 1
