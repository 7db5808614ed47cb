"""Portal login: by username or e-mail, with lockout after repeated failures.

Only `active` logins can log in (a superseded or revoked one cannot). Five wrong passwords lock the login for
15 minutes; the response never says whether the username exists. A stored hash made with older parameters is
upgraded to the current argon2id settings on a successful login.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone

from schoolgate.accounts.models import Account, AccountState
from schoolgate.accounts.usernames import username_key
from schoolgate.core import audit
from schoolgate.core.durations import in_words
from schoolgate.core.models import District
from schoolgate.core.observability import count_login

MAX_FAILURES = 5
LOCK_MINUTES = 15


# Verified against a dummy hash when nobody matches, so an unknown username costs the same time as a wrong
# password (no account enumeration by timing).
@cache
def _dummy_hash() -> str:
    return make_password("not a real password")  # made on first use, not at import: hashing takes a slot


class LoginRefused(Exception):
    """Wrong username or password, or a locked login; the message is safe to show."""


def authenticate(district: District, identifier: str, password: str) -> Account:
    value = identifier.strip()
    # By username first (unique in the district), then by e-mail: two index lookups, where one query with
    # an OR across the account and person tables could use neither index.
    active = Account.objects.filter(district=district, state=AccountState.ACTIVE).select_related("person")
    candidates = list(active.filter(username_key=username_key(value))[:1]) or list(
        active.filter(person__email__iexact=value)[:2]
    )
    if len(candidates) != 1:  # nobody, or an e-mail shared by two logins: the username is needed
        check_password(password, _dummy_hash())
        count_login("portal", "refused")
        raise LoginRefused(
            "Wrong username or password." if not candidates else "Use your username to log in."
        )
    account = candidates[0]
    now = timezone.now()
    locked_now = bool(account.locked_until and account.locked_until > now)

    def upgrade(raw: str) -> None:
        Account.objects.filter(pk=account.pk).update(password_hash=make_password(raw))

    right = check_password(password, account.password_hash, setter=None if locked_now else upgrade)
    if locked_now:
        # The password is checked while locked too, and only the right one hears about the lock: to anyone
        # else a locked login answers as an unknown name does (same words, same hashing time), so five wrong
        # guesses do not tell whether a login exists. Guesses during the lock neither count nor extend it.
        count_login("portal", "locked")
        if not right:
            raise LoginRefused("Wrong username or password.")
        # How long is left, not the clock time it ends: the server's zone is not the parent's, and a bare
        # "after 00:19" names neither.
        raise LoginRefused(f"Too many failed attempts: try again in {in_words(account.locked_until - now)}.")
    if right:
        if account.failed_logins:
            Account.objects.filter(pk=account.pk).update(failed_logins=0, locked_until=None)
            account.failed_logins, account.locked_until = 0, None
        count_login("portal", "success")
        return account
    count_failure(account, now)
    count_login("portal", "refused")
    raise LoginRefused("Wrong username or password.")


def count_failure(account: Account, now: datetime) -> None:
    """One more wrong password for this login (at the login, or as the current one when changing it); the
    fifth in a row locks it for LOCK_MINUTES. A lock that has run out starts the count afresh."""
    with transaction.atomic():
        locked = Account.objects.select_for_update().select_related("person", "district").get(pk=account.pk)
        if locked.locked_until and locked.locked_until <= now:
            locked.failed_logins, locked.locked_until = 0, None
        locked.failed_logins += 1
        if locked.failed_logins >= MAX_FAILURES:
            locked.locked_until = now + timedelta(minutes=LOCK_MINUTES)
            audit.record(
                locked.district, "portal", "account.locked", target_type="account", target_id=locked.pk,
                target_label=locked.person.sis_code, after={"failed_logins": locked.failed_logins,
                                                            "locked_until": locked.locked_until.isoformat()},
            )  # fmt: skip
        locked.save(update_fields=["failed_logins", "locked_until"])
