"""Secrets at rest: SCIM bearer tokens and webhook signing secrets are stored encrypted (Fernet, i.e.
AES-128-CBC + HMAC-SHA256) under a key derived from Django's SECRET_KEY.

A database dump alone therefore reveals no downstream credential. Rotating SECRET_KEY makes the stored
values unreadable: the worker then records "cannot decrypt" on the target and the admin sets the token again.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

_CONTEXT = b"schoolgate.integrations.secrets.v1"


class UnreadableSecret(Exception):
    """The stored value was encrypted under another SECRET_KEY (or is corrupt)."""


def _fernet() -> Fernet:
    # A separate key per purpose: the raw SECRET_KEY also signs sessions and links.
    digest = hashlib.sha256(_CONTEXT + b"\0" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(value: str) -> str:
    """The value encrypted for storage."""
    return _fernet().encrypt(value.encode()).decode("ascii")


def decrypt(stored: str) -> str:
    """The plain value of `encrypt`'s output; UnreadableSecret if it cannot be read with today's key."""
    try:
        return _fernet().decrypt(stored.encode("ascii")).decode()
    except (InvalidToken, ValueError) as exc:
        raise UnreadableSecret(
            "the stored secret cannot be decrypted (SECRET_KEY changed?): set it again"
        ) from exc
