"""Welcome and reset links, and the password itself, against the ways a QA pass found to misuse them: a reset
link outliving a change of password, a flood of reset e-mails, a welcome link for a login that moved on, a
password that holds the username being chosen, and guessing the current password from an open session."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from schoolgate.accounts import lifecycle, passwords
from schoolgate.accounts.authentication import MAX_FAILURES
from schoolgate.accounts.models import Account, AccountState, Invitation, LinkPurpose
from schoolgate.accounts.tokens import LinkInvalid, make_token, read_token
from schoolgate.mail.models import OutboxMessage
from tests.builders import write_oneroster

ORGS = [{"sourcedId": "north", "type": "school"}]
USERS = [
    {"sourcedId": "k1", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": "p1"},
    {"sourcedId": "p1", "role": "parent", "orgSourcedIds": "north", "givenName": "Priya", "familyName": "Nair",
     "email": "priya@example.org"},
]  # fmt: skip
PASSWORD = "plum tree harbour 42"


@pytest.fixture
def invited(cli, district, tmp_path) -> Account:
    cli("sync", district.slug, write_oneroster(tmp_path, users=USERS, orgs=ORGS), "--json")
    account = Account.objects.get(person__sis_code="p1")
    lifecycle.provision_account(account, actor="test")
    return Account.objects.get(pk=account.pk)


@pytest.fixture
def active(invited) -> Account:
    return lifecycle.activate_account(invited, username="priya", password=PASSWORD, actor="test")


def open_resets(account: Account) -> list[Invitation]:
    return list(Invitation.objects.filter(account=account, purpose=LinkPurpose.RESET, used_at=None,
                                          withdrawn_at=None))  # fmt: skip


@pytest.mark.parametrize("how", ["change", "sign_out_everywhere"])
def test_a_reset_link_dies_when_the_password_changes_or_sessions_end(district, active, how):
    passwords.request_reset(district, "priya")
    (link,) = open_resets(active)
    if how == "change":
        passwords.change_password(active, PASSWORD, "a new harbour 4321")
    else:
        passwords.end_sessions(active, actor="portal")
    assert open_resets(active) == []
    with pytest.raises(LinkInvalid):
        read_token(make_token(link), LinkPurpose.RESET)


def test_asking_again_at_once_keeps_the_link_already_sent(district, active):
    for _ in range(5):
        passwords.request_reset(district, "priya@example.org")
    (link,) = open_resets(active)
    assert OutboxMessage.objects.filter(key="password_reset").count() == 1, "one e-mail, not five"
    Invitation.objects.filter(pk=link.pk).update(
        created_at=timezone.now() - timedelta(seconds=passwords.RESEND_SECONDS + 1)
    )
    passwords.request_reset(district, "priya")
    assert [i.pk for i in open_resets(active)] != [link.pk], "later, a new link replaces it"


def test_a_welcome_link_for_a_login_that_moved_on_says_so(district, invited):
    link = Invitation.objects.get(account=invited, purpose=LinkPurpose.WELCOME)
    Account.objects.filter(pk=invited.pk).update(state=AccountState.READY_TO_REVOKE, reason="no_students")
    with pytest.raises(LinkInvalid, match="can no longer be used") as refused:
        read_token(make_token(link), LinkPurpose.WELCOME)
    assert refused.value.expired and "ready_to_revoke" not in str(refused.value)


def test_the_password_cannot_hold_the_username_being_chosen(invited):
    with pytest.raises(passwords.PasswordRejected, match="must not contain the username"):
        passwords.check_policy(invited, "sunflower77-sunflower77", username="sunflower77")


def test_wrong_current_passwords_count_toward_the_lockout(active):
    for _ in range(MAX_FAILURES):
        with pytest.raises(passwords.PasswordRejected, match="current password is not right"):
            passwords.change_password(active, "a wrong guess 1", "a new harbour 4321")
    with pytest.raises(passwords.PasswordRejected, match="Too many wrong passwords"):
        passwords.change_password(active, PASSWORD, "a new harbour 4321")
    account = Account.objects.get(pk=active.pk)
    assert account.failed_logins == MAX_FAILURES and account.locked_until is not None
