"""Service levels: permission levels defined as data (`ServiceRole`), held as `service:<key>` by admins and
API tokens — e.g. a level with `sync.view` and `sync.run` for the token that uploads a district's SIS export.

    level = define_service_level("sis-bridge", "SIS bridge", ["sync.view", "sync.run"], district=…, actor=…)
    change_service_level("sis-bridge", district=…, permissions=["sync.view"], actor=…)
    remove_service_level("sis-bridge", district=…, actor=…)

A level with a district applies there only; without one it applies in every district. A change applies at
once to everyone holding the level (permissions are read on every request). A level still held by an admin,
a pending invitation or a live token cannot be removed: they would be left holding no permissions, without
anyone having decided what they should hold instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from schoolgate.admins import roles
from schoolgate.admins.models import AdminInvitation, AdminMembership, ApiToken, ServiceRole
from schoolgate.core import audit
from schoolgate.core.models import District

# Managing admins stays with the Primary: a level holding it would let a token (which can never be Primary)
# or a non-Primary admin invite, promote and remove admins, i.e. a side door around the one-Primary rule.
NOT_FOR_SERVICE_LEVELS = frozenset({roles.MANAGE_ADMINS})

_KEY = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_KEY_MAX = ServiceRole._meta.get_field("key").max_length
_NAME_MAX = ServiceRole._meta.get_field("name").max_length


class ServiceLevelRejected(Exception):
    """The level cannot be defined, changed or removed; the message says why. Nothing was changed."""


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > _NAME_MAX:
        raise ServiceLevelRejected(f"the level needs a name of at most {_NAME_MAX} characters")
    return name


def _checked_permissions(permissions: Iterable[str]) -> list[str]:
    wanted = sorted(set(permissions))
    if not wanted:
        raise ServiceLevelRejected("give the level at least one permission")
    unknown = [p for p in wanted if p not in roles.ALL]
    if unknown:
        raise ServiceLevelRejected(
            f"unknown permission {', '.join(map(repr, unknown))} "
            f"(valid: {', '.join(sorted(roles.ALL - NOT_FOR_SERVICE_LEVELS))})"
        )
    refused = [p for p in wanted if p in NOT_FOR_SERVICE_LEVELS]
    if refused:
        raise ServiceLevelRejected(
            f"a service level cannot hold {', '.join(refused)}: only the Primary manages admins"
        )
    return wanted


def define_service_level(
    key: str, name: str, permissions: Iterable[str], *, district: District | None, actor: str
) -> ServiceRole:
    """A new service level `service:<key>` with these permissions, for one district or (None) all of them."""
    if not _KEY.fullmatch(key) or len(key) > _KEY_MAX:
        raise ServiceLevelRejected(
            f"key {key!r} must be lower-case letters, digits and single dashes, at most {_KEY_MAX} characters"
        )
    name = _checked_name(name)
    wanted = _checked_permissions(permissions)
    # One key must name one level wherever it applies: `authz.permissions_of` would otherwise pick between a
    # district's level and a global one by NULL ordering, which SQLite and PostgreSQL sort differently. The
    # database's unique (district, key) cannot see this (and treats NULL districts as all distinct).
    clashes = ServiceRole.objects.filter(key=key)
    if district is not None:
        clashes = clashes.filter(Q(district=district) | Q(district=None))
    clash = clashes.select_related("district").first()
    if clash is not None:
        where = f"district {clash.district.slug}" if clash.district else "every district"
        raise ServiceLevelRejected(f"a service level {key!r} already applies in {where}")
    try:
        with transaction.atomic():
            level = ServiceRole.objects.create(district=district, key=key, name=name, permissions=wanted)
            audit.record(
                district, actor, "service_level.added", target_type="service_level", target_id=level.pk,
                target_label=f"{roles.SERVICE_PREFIX}{key}",
                after={"key": key, "name": name, "permissions": wanted,
                       "district": district.slug if district else None},
            )  # fmt: skip
    except IntegrityError:  # the same district's level defined concurrently, after the check above
        raise ServiceLevelRejected(f"a service level {key!r} already applies here") from None
    return level


def _snapshot(level: ServiceRole) -> dict:
    return {"key": level.key, "name": level.name, "permissions": sorted(level.permissions),
            "district": level.district.slug if level.district else None}  # fmt: skip


def _level(key: str, district: District | None) -> ServiceRole:
    """The level `key` defined for `district` (None: the one for every district), locked for the change."""
    found = ServiceRole.objects.select_for_update().filter(key=key, district=district).first()
    if found is None:
        where = f"district {district.slug}" if district else "every district"
        raise ServiceLevelRejected(
            f"no service level {key!r} defined for {where} (`schoolgate level list` shows them)"
        )
    return found


def change_service_level(
    key: str,
    *,
    district: District | None,
    actor: str,
    name: str | None = None,
    permissions: Iterable[str] | None = None,
) -> ServiceRole:
    """Rename the level or give it another set of permissions (replacing the old set), audited."""
    if name is None and permissions is None:
        raise ServiceLevelRejected("give a new name or the level's permissions (or both)")
    new_name = _checked_name(name) if name is not None else None
    wanted = _checked_permissions(permissions) if permissions is not None else None
    with transaction.atomic():
        level = _level(key, district)
        before = _snapshot(level)
        if new_name is not None:
            level.name = new_name
        if wanted is not None:
            level.permissions = wanted
        after = _snapshot(level)
        if after == before:
            return level
        level.save(update_fields=["name", "permissions"])
        audit.record(district, actor, "service_level.changed", target_type="service_level", target_id=level.pk,
                     target_label=f"{roles.SERVICE_PREFIX}{key}", before=before, after=after)  # fmt: skip
    return level


def holders(level: ServiceRole) -> dict[str, int]:
    """Who holds the level now: admins, invitations still open, tokens not revoked (where it applies)."""
    held = f"{roles.SERVICE_PREFIX}{level.key}"
    where = Q(district=level.district) if level.district else Q()
    open_invitations = AdminInvitation.objects.filter(
        where, role=held, used_at__isnull=True, withdrawn_at__isnull=True, expires_at__gt=timezone.now()
    )
    return {
        "admins": AdminMembership.objects.filter(where, role=held).count(),
        "invitations": open_invitations.count(),
        "tokens": ApiToken.objects.filter(where, level=held, revoked_at__isnull=True).count(),
    }


def remove_service_level(key: str, *, district: District | None, actor: str) -> dict:
    """Remove a level nobody holds any more, audited; returns what it was."""
    with transaction.atomic():
        level = _level(key, district)
        held = {what: n for what, n in holders(level).items() if n}
        if held:
            counts = ", ".join(f"{n} {what if n > 1 else what.rstrip('s')}" for what, n in held.items())
            raise ServiceLevelRejected(
                f"{roles.SERVICE_PREFIX}{key} is still held ({counts}): give them another level, withdraw the "
                "invitations or revoke the tokens first"
            )
        before = _snapshot(level)
        level_id = level.pk
        level.delete()
        audit.record(district, actor, "service_level.removed", target_type="service_level", target_id=level_id,
                     target_label=f"{roles.SERVICE_PREFIX}{key}", before=before)  # fmt: skip
    return before
