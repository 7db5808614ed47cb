"""Passwords: reset by e-mail link, change, and admin-set.

"Forgot your password" accepts a username or an e-mail address and always answers the same way, whether or not
anything matched, so the form cannot be used to learn who has an account. Every matching active login gets a
reset link valid SCHOOLGATE_RESET_MINUTES (one hour) whose e-mail also states the username; asked again within
RESEND_SECONDS, the link already sent stands (no e-mail flood, and the e-mail on its way keeps working). Any
password change moves `credentials_version` on, ending every other session and token at once, and withdraws
open reset links (a link sent before the change must not take the login back); so does "sign out
everywhere". It is audited, never logged. Wrong current passwords when changing count toward the lockout as
wrong logins do.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from schoolgate.accounts import lifecycle
from schoolgate.accounts.authentication import count_failure
from schoolgate.accounts.models import Account, AccountState, Invitation, LinkPurpose
from schoolgate.accounts.usernames import username_key
from schoolgate.accounts.welcome import link_url
from schoolgate.core import audit
from schoolgate.core.durations import in_words
from schoolgate.core.models import District
from schoolgate.mail.outbox import enqueue

DEFAULT_MIN_LENGTH = 10
RESEND_SECONDS = 120  # a second "forgot" within this keeps the link already sent


class PasswordRejected(ValueError):
    """The password does not meet the policy; `messages` say why, for the person choosing it."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(" ".join(messages))
        self.messages = messages


def check_policy(account: Account, password: str, *, username: str | None = None) -> None:
    """The group's minimum length and Django's validators (common, numeric-only, similar to the username).

    `username`: the one being chosen with this password (at activation the account has none yet)."""
    minimum = account.group.min_password_length if account.group_id else DEFAULT_MIN_LENGTH
    problems = []
    if len(password) < minimum:
        problems.append(f"Use at least {minimum} characters.")
    try:
        validate_password(password)
    except ValidationError as exc:
        problems.extend(m for m in exc.messages if "at least" not in m)
    name = (username or "").strip() or account.username
    if name and username_key(name) in username_key(password):
        problems.append("The password must not contain the username.")
    if problems:
        raise PasswordRejected(problems)


def _withdraw_resets(account: Account) -> None:
    """Open reset links of this login stop working (after any change of its password or its sessions)."""
    Invitation.objects.filter(
        account=account, purpose=LinkPurpose.RESET, used_at__isnull=True, withdrawn_at__isnull=True
    ).update(withdrawn_at=timezone.now())


def _store(account: Account, password: str, *, must_change: bool) -> None:
    _withdraw_resets(account)
    account.password_hash = make_password(password)
    account.must_change_password = must_change
    account.credentials_version += 1
    account.failed_logins, account.locked_until = 0, None
    account.save(
        update_fields=[
            "password_hash",
            "must_change_password",
            "credentials_version",
            "failed_logins",
            "locked_until",
        ]
    )


def request_reset(district: District, identifier: str, *, actor: str = "portal") -> int:
    """Send reset links to the active logins a username or e-mail names; returns how many (callers must not
    reveal it to the person asking)."""
    value = identifier.strip()
    if not value:
        return 0
    accounts = (
        Account.objects.filter(district=district, state=AccountState.ACTIVE)
        .filter(Q(username_key=username_key(value)) | Q(person__email__iexact=value))
        .select_related("person")
    )
    sent = 0
    now = timezone.now()
    minutes = settings.SCHOOLGATE_RESET_MINUTES
    recent = now - timedelta(seconds=RESEND_SECONDS)
    for account in accounts:
        with transaction.atomic():
            open_links = Invitation.objects.select_for_update().filter(
                account=account, purpose=LinkPurpose.RESET, used_at__isnull=True, withdrawn_at__isnull=True
            )
            if open_links.filter(created_at__gt=recent).exists():
                continue  # one was just sent: it stands (callers answer the same either way)
            open_links.update(withdrawn_at=now)
            link = Invitation.objects.create(
                district=district, account=account, purpose=LinkPurpose.RESET, created_at=now,
                expires_at=now + timedelta(minutes=minutes),
            )  # fmt: skip
            if not account.person.email:
                continue
            enqueue(
                district, "password_reset", account.person.email,
                {"person_name": account.person.display_name, "reset_url": link_url(link),
                 "expires_in_minutes": minutes, "username": account.username},
                person=account.person, account_id=account.pk,
            )  # fmt: skip
            audit.record(
                district, actor, "account.reset_requested", target_type="account", target_id=account.pk,
                target_label=account.person.sis_code, after={"expires_at": link.expires_at.isoformat()},
            )  # fmt: skip
            sent += 1
    return sent


def reset_with_link(link: Invitation, password: str, *, actor: str = "portal") -> Account:
    """Set the password from a reset link (read with tokens.read_token); the link is used up."""
    with transaction.atomic():
        account = (
            Account.objects.select_for_update(of=("self",))
            .select_related("person", "group")
            .get(pk=link.account_id)
        )
        if account.state != AccountState.ACTIVE:
            raise PasswordRejected(["This login can no longer be used."])
        check_policy(account, password)
        Invitation.objects.filter(pk=link.pk).update(used_at=timezone.now())  # used, not withdrawn by _store
        _store(account, password, must_change=False)
        audit.record(
            account.district, actor, "account.password_reset", target_type="account", target_id=account.pk,
            target_label=account.person.sis_code, after={"sessions_ended": True},
        )  # fmt: skip
    return account


def change_password(account: Account, current: str, new: str, *, actor: str = "portal") -> Account:
    """The person changes their own password (also after 'must change at next login'). A wrong current password
    counts toward the lockout, as a wrong login does: a session left open must not let someone try
    passwords without limit."""
    with transaction.atomic():
        locked = (
            Account.objects.select_for_update(of=("self",))
            .select_related("person", "group")
            .get(pk=account.pk)
        )
        now = timezone.now()
        if locked.locked_until and locked.locked_until > now:
            wait = in_words(locked.locked_until - now)
            raise PasswordRejected([f"Too many wrong passwords: try again in {wait}."])
        if check_password(current, locked.password_hash):
            if current == new:
                raise PasswordRejected(["Choose a password different from the current one."])
            check_policy(locked, new)
            _store(locked, new, must_change=False)
            audit.record(
                locked.district, actor, "account.password_changed", target_type="account", target_id=locked.pk,
                target_label=locked.person.sis_code, after={"sessions_ended": True},
            )  # fmt: skip
            return locked
    # Counted after the block above, whose rollback (by the exception) would undo the count.
    count_failure(locked, now)
    raise PasswordRejected(["The current password is not right."])


def set_by_admin(account: Account, password: str, *, must_change: bool, actor: str) -> Account:
    """An admin sets a password (the group policy 'admin-set'); by default the person must change it. An invited
    login becomes active through the lifecycle's own activation."""
    locked = Account.objects.select_related("person", "group").get(pk=account.pk)
    if locked.state not in (AccountState.ACTIVE, AccountState.INVITED):
        raise PasswordRejected([f"{locked.person.sis_code}'s account is {locked.state}."])
    if not locked.username:
        raise PasswordRejected([f"{locked.person.sis_code} has no username yet; set one first."])
    check_policy(locked, password)
    with transaction.atomic():
        if locked.state == AccountState.INVITED:
            locked = lifecycle.activate_account(
                locked, username=locked.username, password=password, actor=actor
            )
            Account.objects.filter(pk=locked.pk).update(must_change_password=must_change)
        else:
            locked = Account.objects.select_for_update().select_related("person").get(pk=locked.pk)
            _store(locked, password, must_change=must_change)
            audit.record(
                locked.district, actor, "account.password_set_by_admin", target_type="account",
                target_id=locked.pk, target_label=locked.person.sis_code,
                after={"must_change_password": must_change, "sessions_ended": True},
            )  # fmt: skip
    locked.refresh_from_db()
    return locked


def end_sessions(account: Account, *, actor: str) -> None:
    """Sign out everywhere: every session and token of this login ends at its next request, and so do open
    reset links (what someone does after a suspected compromise)."""
    with transaction.atomic():
        Account.objects.filter(pk=account.pk).update(credentials_version=F("credentials_version") + 1)
        _withdraw_resets(account)
        audit.record(
            account.district, actor, "account.sessions_ended", target_type="account", target_id=account.pk,
            target_label=account.person.sis_code, after={"sessions_ended": True},
        )  # fmt: skip
