"""Portal account ↔ django-oauth-toolkit user: shadow users, and whether a token's account is still live.

A shadow user is created on an account's first authorization: a random username (`oidc.<hex>`), no usable
password, `is_active=False`, never staff or superuser, no e-mail and no admin membership. The console needs
an active user with a password, a confirmed second factor and a membership (`console/access.py`), so a shadow
user cannot reach it by any door; it exists only because django-oauth-toolkit's tables point at
`AUTH_USER_MODEL`. Its `last_login` is the time of the portal login behind its latest authorization
(`note_login`): the toolkit takes the ID token's `auth_time` from it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F

from schoolgate.accounts.models import Account, AccountState
from schoolgate.oidc.models import OidcClient, OidcIdentity
from schoolgate.oidc.revocation import delete_tokens_of

SHADOW_PREFIX = "oidc."


def _create(account: Account) -> OidcIdentity:
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(
                f"{SHADOW_PREFIX}{uuid.uuid4().hex}", password=None, is_active=False
            )  # password=None: an unusable password
            return OidcIdentity.objects.create(
                district_id=account.district_id,
                account=account,
                user=user,
                credentials_version=account.credentials_version,
            )
    except IntegrityError:  # a concurrent first authorization of the same account created it
        return OidcIdentity.objects.select_related("user").get(
            district_id=account.district_id, account=account
        )


def identity_for(account: Account) -> OidcIdentity:
    """The account's identity, created on first use. Tokens minted under older credentials are removed
    before the identity takes the account's current version, so they can never become valid again."""
    identity = (
        OidcIdentity.objects.select_related("user")
        .filter(district_id=account.district_id, account=account)
        .first()
    )
    if identity is None:
        return _create(account)
    if identity.credentials_version != account.credentials_version:
        with transaction.atomic():
            delete_tokens_of("SELECT %s AS user_id", [identity.user_id])
            OidcIdentity.objects.filter(district_id=account.district_id, pk=identity.pk).update(
                credentials_version=account.credentials_version
            )
        identity.credentials_version = account.credentials_version
    return identity


def note_login(identity: OidcIdentity, at: datetime | None) -> None:
    """Record when the portal login behind the identity's next tokens happened (None: unknown).

    It goes in the shadow user's `last_login`, which is where django-oauth-toolkit reads an ID token's
    `auth_time` from, at the token endpoint as on refresh. It is written on every authorization request, so
    a code carries the login of the session that asked for it. One shadow user serves all of an account's
    sessions, so an ID token minted on refresh carries the login behind the account's latest authorization."""
    user = identity.user
    if user.last_login != at:  # most authorizations of a session find it written already: no UPDATE
        get_user_model().objects.filter(pk=user.pk).update(last_login=at)
        user.last_login = at


def is_live(user: Any, application: Any) -> bool:
    """True while the user's account is active with the credentials its tokens were minted under, and
    belongs to the district that owns `application`."""
    if user is None or application is None or not getattr(user, "pk", None):
        return False
    district_id = (
        OidcClient.objects.filter(application_id=application.pk).values_list("district_id", flat=True).first()
    )
    if district_id is None:
        return False
    return OidcIdentity.objects.filter(
        district_id=district_id,
        user_id=user.pk,
        account__district_id=district_id,
        account__state=AccountState.ACTIVE,
        account__credentials_version=F("credentials_version"),
    ).exists()


def identity_of_user(user: Any) -> OidcIdentity | None:
    """The identity behind a shadow user, with its account, person and district (None for other users)."""
    if user is None or not getattr(user, "pk", None):
        return None
    # Looked up by user alone: like a token, the shadow user is what names the district (an identity has
    # exactly one), so there is no district to scope by before this lookup.
    return (
        OidcIdentity.objects.select_related("account__person", "account__district", "district")
        .filter(user_id=user.pk)
        .first()
    )
