"""Service levels: permission levels defined as data (`ServiceRole`), held as `service:<key>` by admins and
API tokens — e.g. a level with `sync.view` and `sync.run` for the token that uploads a district's SIS export.

    level = define_service_level("sis-bridge", "SIS bridge", ["sync.view", "sync.run"], district=…, actor=…)

A level with a district applies there only; without one it applies in every district.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Q

from schoolgate.admins import roles
from schoolgate.admins.models import ServiceRole
from schoolgate.core import audit
from schoolgate.core.models import District

# Managing admins stays with the Primary: a level holding it would let a token (which can never be Primary)
# or a non-Primary admin invite, promote and remove admins, i.e. a side door around the one-Primary rule.
NOT_FOR_SERVICE_LEVELS = frozenset({roles.MANAGE_ADMINS})

_KEY = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_KEY_MAX = ServiceRole._meta.get_field("key").max_length
_NAME_MAX = ServiceRole._meta.get_field("name").max_length


class ServiceLevelRejected(Exception):
    """The level cannot be defined; the message says why. Nothing was changed."""


def define_service_level(
    key: str, name: str, permissions: Iterable[str], *, district: District | None, actor: str
) -> ServiceRole:
    """A new service level `service:<key>` with these permissions, for one district or (None) all of them."""
    if not _KEY.fullmatch(key) or len(key) > _KEY_MAX:
        raise ServiceLevelRejected(
            f"key {key!r} must be lower-case letters, digits and single dashes, at most {_KEY_MAX} characters"
        )
    name = name.strip()
    if not name or len(name) > _NAME_MAX:
        raise ServiceLevelRejected(f"the level needs a name of at most {_NAME_MAX} characters")
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
