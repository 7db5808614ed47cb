"""API and SCIM tokens: created for one district at one permission level, shown once, stored as a hash.

    raw, token = create_token(district, level="support", scope="api", name="SIS bridge", actor=…)
    access = authenticate_token(raw, scope="api")   # None when unknown, revoked, or its admin was removed

A token that belongs to an admin works only while that admin still administers the district: removing the
admin revokes it, and `authenticate_token` checks the membership too, so nothing outlives the removal.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from schoolgate.admins.authz import Access, permissions_of
from schoolgate.admins.delegation import AdminChangeRejected, check_role
from schoolgate.admins.models import AdminMembership, ApiToken
from schoolgate.admins.roles import PRIMARY
from schoolgate.core import audit
from schoolgate.core.models import District

PREFIX = "sg_"
SCOPES = ("api", "scim")
LAST_USE_PRECISION = timedelta(minutes=1)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(
    district: District,
    *,
    level: str,
    scope: str,
    name: str,
    actor: str,
    user: AbstractBaseUser | None = None,
) -> tuple[str, ApiToken]:
    """A new token (the raw value is returned once and never stored)."""
    if scope not in SCOPES:
        raise AdminChangeRejected(f"scope {scope!r} must be one of {', '.join(SCOPES)}")
    if level == PRIMARY:
        raise AdminChangeRejected("a token cannot carry the Primary level (it cannot manage admins)")
    check_role(district, level)
    if not name.strip():
        raise AdminChangeRejected("give the token a name, so it can be recognised and revoked later")
    raw = PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            district=district, user=user, name=name.strip(), level=level, scope=scope, prefix=raw[:10],
            token_hash=_digest(raw), created_by=actor,
        )  # fmt: skip
        audit.record(
            district, actor, "token.created", target_type="api_token", target_id=token.pk,
            target_label=f"{token.prefix}… {token.name}", after={"level": level, "scope": scope},
        )  # fmt: skip
    return raw, token


def revoke_token(token: ApiToken, *, actor: str) -> None:
    with transaction.atomic():
        if ApiToken.objects.filter(pk=token.pk, revoked_at=None).update(revoked_at=timezone.now()):
            audit.record(
                token.district, actor, "token.revoked", target_type="api_token", target_id=token.pk,
                target_label=f"{token.prefix}… {token.name}",
            )  # fmt: skip


def authenticate_token(raw: str, *, scope: str) -> Access | None:
    """What the bearer of `raw` may do, or None if the token is unknown, revoked, or its admin was removed."""
    token = (
        ApiToken.objects.select_related("district", "user")
        .filter(token_hash=_digest(raw), scope=scope, revoked_at=None)
        .first()
    )
    if token is None:
        return None
    if token.user_id is not None and not (
        token.user.is_active
        and AdminMembership.objects.filter(user_id=token.user_id, district=token.district).exists()
    ):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USE_PRECISION:
        # "Last used" to the minute is all a listing needs; not one write per API request.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return Access(token.district, token.level, permissions_of(token.level, token.district))
