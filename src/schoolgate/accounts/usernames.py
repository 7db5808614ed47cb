"""Usernames: the uniqueness key, and the checks every path that sets a username goes through.

Uniqueness is per district, across schools and person kinds, and ignores case and Unicode look-alikes
(NFKC + casefold): "ANNA", "anna" and "anna" typed in full-width letters (U+FF41 …) are the same username. The database enforces it on
the stored key; these helpers produce the key and explain a refusal.
"""

from __future__ import annotations

import unicodedata


class InvalidUsername(ValueError):
    """The username cannot be used; the message says why."""


MAX_LENGTH = 150


def username_key(username: str) -> str:
    """The comparison key: NFKC-normalised and case-folded."""
    return unicodedata.normalize("NFKC", username).casefold()


def clean_username(username: str) -> str:
    """The username as it will be stored, or InvalidUsername saying what is wrong with it."""
    value = unicodedata.normalize("NFKC", username).strip()
    if not value:
        raise InvalidUsername("a username cannot be empty")
    if len(value) > MAX_LENGTH:
        raise InvalidUsername(f"a username can be at most {MAX_LENGTH} characters")
    for char in value:
        if char.isspace() or unicodedata.category(char).startswith("C"):
            raise InvalidUsername(f"a username cannot contain spaces or control characters ({char!r})")
    return value


def check_own_address(name: str, own_email: str | None) -> None:
    """A username someone chooses (or an admin sets) that is an e-mail address must be the person's own.

    Logins look a name up as a username first and as an e-mail address after, so another person's address
    taken as a username would capture their e-mail login: their password would stop working with it, and
    their wrong attempts would lock the other account."""
    if "@" in name and username_key(name) != username_key((own_email or "").strip()):
        raise InvalidUsername(
            "a username with '@' must be the person's own e-mail address"
            + (f" ({own_email.strip()})" if own_email and own_email.strip() else "")
            + "; choose one without '@'"
        )
