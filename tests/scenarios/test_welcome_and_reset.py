"""DOMAIN.md scenario 9, end to end over real SMTP: the welcome e-mail's link lets the person set a password
(and choose a free username), works once, expires, and dies when resent; "forgot password" mails a one-hour
link that also states the username, and never reveals whether an address exists. Passwords are never e-mailed.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account, Invitation
from schoolgate.core.models import AuditEvent
from schoolgate.mail.sender import deliver_due
from tests.builders import write_oneroster

ORGS = [{"sourcedId": "north", "type": "school"}]
USERS = [
    {"sourcedId": "k1", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": "p1,p2"},
    {"sourcedId": "p1", "role": "parent", "orgSourcedIds": "north", "givenName": "Priya", "familyName": "Nair",
     "email": "priya@example.org"},
    {"sourcedId": "p2", "role": "parent", "orgSourcedIds": "north", "givenName": "Arun", "familyName": "Nair",
     "email": "arun@example.org"},
]  # fmt: skip
PASSWORD = "plum tree harbour 42"


def link_in(message, path: str) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(rf"http://testserver(/portal/{path}/[^/\s]+/)", text)
    assert match, text
    return match.group(1)


def setup(cli, district, tmp_path):
    cli("sync", district.slug, write_oneroster(tmp_path, users=USERS, orgs=ORGS), "--json")
    result = cli("provision", district.slug, "p1", "p2", "--json")
    assert result.json["counts"] == {"provisioned": 2, "skipped": 0}
    report = deliver_due()
    assert report.sent == 2


def test_welcome_link_sets_a_password_once(cli, district, tmp_path, smtp_server, client):
    setup(cli, district, tmp_path)
    (welcome,) = smtp_server.to("priya@example.org")
    assert welcome.is_multipart() and welcome.get_body(preferencelist=("html",)) is not None
    link = link_in(welcome, "activate")

    page = client.get(link)
    assert page.status_code == 200 and b'name="username"' in page.content, "the group lets her choose"
    taken = client.post(link, {"username": "x", "password": "short", "password2": "short"})
    assert taken.status_code == 400 and b"at least 10 characters" in taken.content
    done = client.post(link, {"username": "priya.n", "password": PASSWORD, "password2": PASSWORD})
    assert done.status_code == 302 and done["Location"].endswith("/portal/students/")
    settings_page = client.get("/portal/settings/")
    assert b"priya.n" in settings_page.content, "the settings page shows the username"
    account = Account.objects.get(person__sis_code="p1")
    assert account.state == "active" and PASSWORD not in account.password_hash
    assert AuditEvent.objects.filter(action="account.activated", target_label="p1").exists()

    reused = client.get(link)
    assert reused.status_code == 410 and b"already used" in reused.content
    for message in smtp_server.messages:
        assert PASSWORD not in message.as_string(), "passwords are never e-mailed"


def test_a_chosen_username_must_be_free(cli, district, tmp_path, smtp_server, client):
    setup(cli, district, tmp_path)
    first = link_in(smtp_server.to("priya@example.org")[0], "activate")
    second = link_in(smtp_server.to("arun@example.org")[0], "activate")
    assert (
        client.post(first, {"username": "nair", "password": PASSWORD, "password2": PASSWORD}).status_code
        == 302
    )
    client.post("/portal/logout/")
    clash = client.post(second, {"username": "NAIR", "password": PASSWORD, "password2": PASSWORD})
    assert clash.status_code == 400 and b"already in use" in clash.content


def test_expired_and_resent_welcome_links(cli, district, tmp_path, smtp_server, client):
    setup(cli, district, tmp_path)
    old = link_in(smtp_server.to("arun@example.org")[0], "activate")
    Invitation.objects.filter(account__person__sis_code="p2").update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert client.get(old).status_code == 410
    lifecycle.resend_welcome(Account.objects.get(person__sis_code="p2"), actor="test")
    deliver_due()
    new = link_in(smtp_server.to("arun@example.org")[-1], "activate")
    assert new != old and client.get(new).status_code == 200
    assert client.get(old).status_code == 410, "resend invalidates the previous link"


def test_forgot_password_states_the_username_and_reveals_nothing(
    cli, district, tmp_path, smtp_server, client
):
    setup(cli, district, tmp_path)
    link = link_in(smtp_server.to("priya@example.org")[0], "activate")
    client.post(link, {"username": "priya.n", "password": PASSWORD, "password2": PASSWORD})
    other = client.__class__()
    other.post(f"/portal/{district.slug}/login/", {"identifier": "priya.n", "password": PASSWORD})
    assert other.get("/portal/settings/").status_code == 200

    sent_before = len(smtp_server.messages)
    known = client.post(f"/portal/{district.slug}/password/forgot/", {"identifier": "priya@example.org"})
    unknown = client.post(f"/portal/{district.slug}/password/forgot/", {"identifier": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200 and known.content == unknown.content
    deliver_due()
    assert len(smtp_server.messages) == sent_before + 1, "nothing is sent for an unknown address"
    reset_mail = smtp_server.messages[-1]
    assert "priya.n" in reset_mail.get_body(preferencelist=("plain",)).get_content(), (
        "the e-mail states the username"
    )
    reset = link_in(reset_mail, "password/reset")

    new_password = "a brand new passphrase"
    assert client.post(reset, {"password": new_password, "password2": new_password}).status_code == 200
    assert other.get("/portal/settings/").status_code == 302, "every other session ended at once"
    assert client.post(reset, {"password": "x" * 12, "password2": "x" * 12}).status_code == 410, "works once"
    login = client.post(
        f"/portal/{district.slug}/login/", {"identifier": "priya.n", "password": new_password}
    )
    assert login.status_code == 302
    assert AuditEvent.objects.filter(action="account.password_reset", target_label="p1").count() == 1


def test_reset_links_expire_after_an_hour(cli, district, tmp_path, smtp_server, client):
    setup(cli, district, tmp_path)
    lifecycle.activate_account(Account.objects.get(person__sis_code="p2"), username="arun", password=PASSWORD,
                               actor="test")  # fmt: skip
    client.post(f"/portal/{district.slug}/password/forgot/", {"identifier": "arun"})
    deliver_due()
    reset = link_in(smtp_server.messages[-1], "password/reset")
    Invitation.objects.filter(purpose="reset").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(reset).status_code == 410


def test_repeated_wrong_passwords_lock_the_login(cli, district, tmp_path, smtp_server, client):
    setup(cli, district, tmp_path)
    lifecycle.activate_account(Account.objects.get(person__sis_code="p2"), username="arun", password=PASSWORD,
                               actor="test")  # fmt: skip
    for _ in range(5):
        assert (
            client.post(
                f"/portal/{district.slug}/login/", {"identifier": "arun", "password": "wrong"}
            ).status_code
            == 400
        )
    locked = client.post(f"/portal/{district.slug}/login/", {"identifier": "arun", "password": PASSWORD})
    assert locked.status_code == 400 and b"Too many failed attempts" in locked.content
    assert AuditEvent.objects.filter(action="account.locked", target_label="p2").exists()
