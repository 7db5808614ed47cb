"""Portal login: who an identifier names (username first, then e-mail), and the session a login gets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account
from tests.builders import write_oneroster

ORGS = [{"sourcedId": "north", "type": "school"}]
PASSWORD = "plum tree harbour 42"


def active_guardians(cli, district, tmp_path, emails: dict[str, str]) -> None:
    users = [
        {"sourcedId": "k1", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": ",".join(emails)}
    ]
    users += [
        {"sourcedId": code, "role": "parent", "orgSourcedIds": "north", "familyName": "Nair", "email": email}
        for code, email in emails.items()
    ]
    cli("sync", district.slug, write_oneroster(tmp_path, users=users, orgs=ORGS), "--json")
    for code in emails:
        account = Account.objects.get(person__sis_code=code)
        lifecycle.provision_account(account, actor="test")
        lifecycle.activate_account(Account.objects.get(pk=account.pk), username=code, password=PASSWORD,
                                   actor="test")  # fmt: skip


def log_in(client, district, identifier: str):
    return client.post(f"/portal/{district.slug}/login/", {"identifier": identifier, "password": PASSWORD})


def test_username_or_email_and_a_shared_email_asks_for_the_username(cli, district, tmp_path, client):
    active_guardians(cli, district, tmp_path, {"p1": "priya@example.org", "p2": "family@example.org",
                                                "p3": "FAMILY@example.org"})  # fmt: skip
    assert log_in(client, district, "p1").status_code == 302
    assert log_in(client, district, " Priya@Example.org ").status_code == 302, "e-mail, any case"
    shared = log_in(client, district, "family@example.org")
    assert shared.status_code == 400 and b"Use your username" in shared.content
    assert log_in(client, district, "p3").status_code == 302, "the username still works"
    # An identifier that is one login's username wins over another's e-mail address.
    Account.objects.filter(person__sis_code="p2").update(username="priya@example.org",
                                                         username_key="priya@example.org")  # fmt: skip
    response = log_in(client, district, "priya@example.org")
    assert response.status_code == 302
    assert client.session["portal_account"] == Account.objects.get(person__sis_code="p2").pk


def test_a_login_never_keeps_a_session_id_set_before_it(cli, district, tmp_path, client):
    active_guardians(cli, district, tmp_path, {"p1": "priya@example.org"})
    planted = client.session  # a session (and its cookie) that existed before the login
    planted["seen"] = True
    planted.save()
    before = planted.session_key
    assert log_in(client, district, "p1").status_code == 302
    after = client.cookies["sessionid"].value
    assert after != before and not Session.objects.filter(session_key=before).exists()
    assert client.get("/portal/students/").status_code == 200


def test_a_visitor_without_a_session_gets_exactly_one(cli, district, tmp_path, client):
    active_guardians(cli, district, tmp_path, {"p1": "priya@example.org"})
    assert not Session.objects.exists()
    assert log_in(client, district, "p1").status_code == 302
    assert Session.objects.count() == 1
    assert Session.objects.get().session_key == client.cookies["sessionid"].value
    page = client.get("/portal/students/")
    assert page.status_code == 200 and b'data-student="k1"' in page.content


def test_the_portal_reads_the_account_exactly_as_the_orm_does(cli, district, tmp_path):
    """The portal loads the logged-in account with one fixed SQL statement (a hot path); every field of the
    account, its person and district must come back with the value and type the ORM gives."""
    from schoolgate.portal.session import _load_account

    active_guardians(cli, district, tmp_path, {"p1": "priya@example.org"})
    expected = Account.objects.select_related("person", "district").get(person__sis_code="p1")
    loaded = _load_account(expected.pk)
    for ours, theirs in (
        (loaded, expected),
        (loaded.person, expected.person),
        (loaded.district, expected.district),
    ):
        for field in type(theirs)._meta.concrete_fields:
            mine, orm = getattr(ours, field.attname), getattr(theirs, field.attname)
            assert (mine, type(mine)) == (orm, type(orm)), field.name
    assert _load_account(expected.pk + 1000) is None


def test_a_locked_login_says_how_long_to_wait_not_a_clock_time(cli, district, tmp_path, client):
    """Parents read "try again in 15 minutes", never "after 00:19" (a clock time in an unnamed zone)."""
    active_guardians(cli, district, tmp_path, {"p1": "priya@example.org"})
    for _ in range(5):
        client.post(f"/portal/{district.slug}/login/", {"identifier": "p1", "password": "wrong"})
    locked = log_in(client, district, "p1")
    text = locked.content.decode()
    assert locked.status_code == 400
    assert "Too many failed attempts: try again in 15 minutes." in text, text
    assert "try again after" not in text
    # What is left of the lock, rounded up to a whole minute: never "0 minutes".
    Account.objects.filter(person__sis_code="p1").update(locked_until=timezone.now() + timedelta(seconds=20))
    assert "try again in 1 minute." in log_in(client, district, "p1").content.decode()
    Account.objects.filter(person__sis_code="p1").update(
        locked_until=timezone.now() + timedelta(minutes=4, seconds=10)
    )
    assert "try again in 5 minutes." in log_in(client, district, "p1").content.decode()


def wrong(client, district, identifier: str):
    return client.post(
        f"/portal/{district.slug}/login/", {"identifier": identifier, "password": "wrong guess"}
    )


def test_a_locked_login_tells_only_its_owner(cli, district, tmp_path, client):
    """Five wrong guesses must not tell whether a login exists: during the lock a wrong password gets the
    words an unknown name gets, and only the right password hears about the lock."""
    active_guardians(cli, district, tmp_path, {"p1": "priya@example.org"})
    for _ in range(5):
        wrong(client, district, "p1")
    for identifier in ("p1", "priya@example.org", "nobody-here"):
        guess = wrong(client, district, identifier)
        assert b"Wrong username or password." in guess.content and b"Too many" not in guess.content, (
            identifier
        )
    assert b"Too many failed attempts" in log_in(client, district, "p1").content
    account = Account.objects.get(person__sis_code="p1")
    assert account.failed_logins == 5, "guesses during the lock neither count nor extend it"


def test_a_lock_that_ran_out_counts_afresh(cli, district, tmp_path, client):
    active_guardians(cli, district, tmp_path, {"p1": "priya@example.org"})
    for _ in range(5):
        wrong(client, district, "p1")
    Account.objects.filter(person__sis_code="p1").update(locked_until=timezone.now() - timedelta(seconds=1))
    wrong(client, district, "p1")  # one slip after the lock: not another 15 minutes
    account = Account.objects.get(person__sis_code="p1")
    assert (account.failed_logins, account.locked_until) == (1, None)
    assert log_in(client, district, "p1").status_code == 302


def test_a_username_cannot_be_someone_elses_email(cli, district, tmp_path, client):
    """Logins look a name up as a username before an e-mail: another parent's address as a username would
    capture that parent's e-mail login (and let their wrong attempts lock the other account)."""
    from schoolgate.accounts.username_policy import change_username
    from schoolgate.accounts.usernames import InvalidUsername

    active_guardians(cli, district, tmp_path, {"p1": "priya@example.org"})
    users = [{"sourcedId": "k1", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": "p1,p2"},
             {"sourcedId": "p1", "role": "parent", "orgSourcedIds": "north", "email": "priya@example.org"},
             {"sourcedId": "p2", "role": "parent", "orgSourcedIds": "north", "email": "ravi@example.org"}]  # fmt: skip
    cli("sync", district.slug, write_oneroster(tmp_path / "two", users=users, orgs=ORGS), "--json")
    ravi = Account.objects.get(person__sis_code="p2")
    lifecycle.provision_account(ravi, actor="test")
    for taken in ("Priya@Example.org", "someone@else.org"):
        with pytest.raises(InvalidUsername, match=r"own e-mail address \(ravi@example.org\)"):
            lifecycle.activate_account(Account.objects.get(pk=ravi.pk), username=taken, password=PASSWORD,
                                       actor="test")  # fmt: skip
    lifecycle.activate_account(Account.objects.get(pk=ravi.pk), username="RAVI@example.org", password=PASSWORD,
                               actor="test")  # fmt: skip
    assert log_in(client, district, "priya@example.org").status_code == 302, "her e-mail login is hers"
    with pytest.raises(InvalidUsername, match="own e-mail address"):
        change_username(district, "p2", "priya@example.org", actor="test")
