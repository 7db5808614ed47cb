"""Signed tokens for the links in e-mails (welcome, password reset).

A token is the link row's id, signed with the installation's secret key and a purpose-specific salt, plus a
timestamp. The signature makes it unforgeable; the row makes it single-use (used_at) and revocable
(withdrawn_at); the row's expiry and the signer's max_age both bound its life.
"""

from __future__ import annotations

from datetime import timedelta

from django.core import signing
from django.utils import timezone

from schoolgate.accounts.models import AccountState, Invitation, LinkPurpose

SALT = "schoolgate.links.{purpose}"


class LinkInvalid(Exception):
    """The link is not one of ours, was altered, has expired, was used, or was replaced by a newer one."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def make_token(invitation: Invitation) -> str:
    return signing.TimestampSigner(salt=SALT.format(purpose=invitation.purpose)).sign_object(
        {"i": invitation.pk}
    )


def read_token(token: str, purpose: str) -> Invitation:
    """The open link row the token names, or LinkInvalid saying why it cannot be used."""
    signer = signing.TimestampSigner(salt=SALT.format(purpose=purpose))
    try:
        payload = signer.unsign_object(token, max_age=timedelta(days=31))
    except signing.SignatureExpired:
        raise LinkInvalid("This link has expired.", expired=True) from None
    except signing.BadSignature:
        raise LinkInvalid("This link is not valid. Check that the whole address was copied.") from None
    invitation = (
        Invitation.objects.select_related("account__person", "account__district", "account__group")
        .filter(pk=payload.get("i"), purpose=purpose)
        .first()
    )
    if invitation is None:
        raise LinkInvalid("This link is not valid.")
    if invitation.used_at is not None:
        raise LinkInvalid("This link was already used. Each link works once.", expired=True)
    if invitation.withdrawn_at is not None:
        raise LinkInvalid("A newer e-mail replaced this link: use the link in the latest one.", expired=True)
    if invitation.expires_at <= timezone.now():
        raise LinkInvalid("This link has expired.", expired=True)
    # A welcome sets up an invited login, a reset an active one: once the login has moved on (revoked, queued
    # for revocation, superseded), its link leads nowhere, and says so instead of offering a form to refuse.
    usable = AccountState.INVITED if purpose == LinkPurpose.WELCOME else AccountState.ACTIVE
    if invitation.account.state != usable:
        raise LinkInvalid(
            "This link can no longer be used: the login it was sent for has changed since. If you still need "
            "access, contact the school office.",
            expired=True,
        )
    return invitation
