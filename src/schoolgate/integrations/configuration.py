"""Managing a district's integrations: add, change and remove SCIM targets and webhook endpoints, audited,
and their status (what waits, what failed, the last success, the lag) for the CLI and the console.

Tokens and secrets are stored encrypted and never returned: a webhook secret is shown once, when the
endpoint is added (generated here, so it is long and random).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from schoolgate.core import audit
from schoolgate.core.models import District
from schoolgate.integrations import crypto, events, outbox
from schoolgate.integrations.models import (
    DeliveryStatus,
    PushStatus,
    ScimPush,
    ScimTarget,
    WebhookDelivery,
    WebhookEndpoint,
)


class IntegrationRejected(ValueError):
    """The request cannot be acted on; the message names what is wrong. Nothing was changed."""


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown once


def check_url(url: str, what: str) -> str:
    """The URL if it is an absolute http(s) URL (https outside DEBUG, except on loopback)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise IntegrationRejected(f"{what} {url!r} must be an absolute http:// or https:// URL")
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme == "http" and not (loopback or settings.DEBUG):
        raise IntegrationRejected(
            f"{what} {url!r} must use https:// (the token/secret would travel in clear)"
        )
    if parts.username or parts.password:
        raise IntegrationRejected(f"{what} {url!r} must not carry credentials; use the token option")
    return url.strip()


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100:
        raise IntegrationRejected(f"the name {name!r} must be 1 to 100 characters long")
    return name


# ── SCIM targets ───────────────────────────────────────────────────────────────────────────────────────────


def add_target(district: District, name: str, base_url: str, token: str, *, actor: str,
               enabled: bool = True) -> ScimTarget:  # fmt: skip
    """Add a SCIM target and queue every account of the district for it."""
    name = _check_name(name)
    base_url = check_url(base_url, "the SCIM base URL")
    if not token.strip():
        raise IntegrationRejected("the SCIM target needs a bearer token")
    if ScimTarget.objects.filter(district=district, name=name).exists():
        raise IntegrationRejected(f"district {district.slug!r} already has a SCIM target named {name!r}")
    with transaction.atomic():
        target = ScimTarget.objects.create(
            district=district, name=name, base_url=base_url.rstrip("/"),
            token_encrypted=crypto.encrypt(token.strip()), enabled=enabled, created_at=timezone.now(),
        )  # fmt: skip
        audit.record(district, actor, "integration.scim_added", target_type="scim_target", target_id=target.pk,
                     target_label=name, after={"base_url": target.base_url, "enabled": enabled})  # fmt: skip
        outbox.queue_all_accounts(target)
    return target


def get_target(district: District, name: str) -> ScimTarget:
    try:
        return ScimTarget.objects.get(district=district, name=name)
    except ScimTarget.DoesNotExist:
        raise IntegrationRejected(f"district {district.slug!r} has no SCIM target named {name!r}") from None


def set_target(district: District, name: str, *, actor: str, enabled: bool | None = None,
               token: str | None = None, base_url: str | None = None) -> ScimTarget:  # fmt: skip
    """Switch a target on or off, or replace its token or URL."""
    target = get_target(district, name)
    before = {"base_url": target.base_url, "enabled": target.enabled}
    if enabled is not None:
        target.enabled = enabled
    if base_url is not None:
        target.base_url = check_url(base_url, "the SCIM base URL").rstrip("/")
    if token is not None:
        if not token.strip():
            raise IntegrationRejected("the SCIM token cannot be empty")
        target.token_encrypted = crypto.encrypt(token.strip())
    with transaction.atomic():
        target.save()
        after = {"base_url": target.base_url, "enabled": target.enabled, "token_changed": token is not None}
        audit.record(district, actor, "integration.scim_changed", target_type="scim_target",
                     target_id=target.pk, target_label=name, before=before, after=after)  # fmt: skip
        if target.enabled:
            outbox.kick_after_commit()
    return target


def remove_target(district: District, name: str, *, actor: str) -> None:
    """Remove a target and its push state (downstream users are left as they are)."""
    target = get_target(district, name)
    with transaction.atomic():
        audit.record(district, actor, "integration.scim_removed", target_type="scim_target",
                     target_id=target.pk, target_label=name, before={"base_url": target.base_url})  # fmt: skip
        target.delete()


def retry_failed(district: District, name: str, *, actor: str) -> int:
    """Give a target's failed pushes a fresh set of attempts; how many."""
    target = get_target(district, name)
    now = timezone.now()
    with transaction.atomic():
        count = ScimPush.objects.filter(district=district, target=target, status=PushStatus.FAILED).update(
            status=PushStatus.PENDING, attempts=0, next_attempt_at=now
        )
        audit.record(district, actor, "integration.scim_retried", target_type="scim_target",
                     target_id=target.pk, target_label=name, after={"requeued": count})  # fmt: skip
        outbox.kick_after_commit()
    return count


def target_status(district: District) -> list[dict[str, Any]]:
    """Per target: pending, failed and pushed counts, the oldest unpushed change's lag, the last success."""
    now = timezone.now()
    stats = _outbox_stats(
        ScimPush.objects.filter(district=district), "target_id", "dirty_since",
        {"pending": PushStatus.PENDING, "failed": PushStatus.FAILED, "pushed": PushStatus.DONE},
    )  # fmt: skip
    result = []
    for target in ScimTarget.objects.filter(district=district).order_by("name"):
        row = stats.get(target.pk, {})
        result.append({
            "name": target.name, "base_url": target.base_url, "enabled": target.enabled,
            "pending": row.get("pending", 0), "failed": row.get("failed", 0), "pushed": row.get("pushed", 0),
            "lag_seconds": _lag_seconds(now, row.get("oldest")),
            "last_success_at": target.last_success_at, "last_error": target.last_error,
            "last_error_at": target.last_error_at,
        })  # fmt: skip
    return result


def failed_pushes(district: District, name: str, limit: int = 50) -> list[dict[str, Any]]:
    """A target's failed pushes with their last error (for troubleshooting)."""
    target = get_target(district, name)
    rows = ScimPush.objects.filter(district=district, target=target, status=PushStatus.FAILED)
    return list(rows.order_by("id").values("account_id", "attempts", "last_error")[:limit])


# ── webhook endpoints ──────────────────────────────────────────────────────────────────────────────────────


def parse_event_types(value: str) -> list[str]:
    """A comma-separated list of event types ("*" for all), each checked against the known ones."""
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise IntegrationRejected(
            "name at least one event type, or * for all: " + ", ".join(events.EVENT_TYPES)
        )
    unknown = [n for n in names if n != "*" and n not in events.EVENT_TYPES]
    if unknown:
        raise IntegrationRejected(
            f"unknown event type(s) {', '.join(unknown)}; known: * (all), {', '.join(events.EVENT_TYPES)}"
        )
    return ["*"] if "*" in names else sorted(set(names))


def add_endpoint(district: District, name: str, url: str, event_types: list[str], *,
                 actor: str) -> CreatedEndpoint:  # fmt: skip
    """Add a webhook endpoint with a new random secret (returned once)."""
    name = _check_name(name)
    url = check_url(url, "the webhook URL")
    if WebhookEndpoint.objects.filter(district=district, name=name).exists():
        raise IntegrationRejected(f"district {district.slug!r} already has a webhook endpoint named {name!r}")
    secret = "whsec_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        first = not WebhookEndpoint.objects.filter(district=district, enabled=True).exists()
        endpoint = WebhookEndpoint.objects.create(
            district=district, name=name, url=url, secret_encrypted=crypto.encrypt(secret),
            event_types="," + ",".join(event_types) + ",", created_at=timezone.now(),
        )  # fmt: skip
        if first:
            events.remember_all_states(district.pk)
        audit.record(district, actor, "integration.webhook_added", target_type="webhook_endpoint",
                     target_id=endpoint.pk, target_label=name,
                     after={"url": url, "event_types": event_types})  # fmt: skip
    return CreatedEndpoint(endpoint, secret)


def get_endpoint(district: District, name: str) -> WebhookEndpoint:
    try:
        return WebhookEndpoint.objects.get(district=district, name=name)
    except WebhookEndpoint.DoesNotExist:
        raise IntegrationRejected(
            f"district {district.slug!r} has no webhook endpoint named {name!r}"
        ) from None


def remove_endpoint(district: District, name: str, *, actor: str) -> None:
    """Remove an endpoint and its deliveries."""
    endpoint = get_endpoint(district, name)
    with transaction.atomic():
        audit.record(district, actor, "integration.webhook_removed", target_type="webhook_endpoint",
                     target_id=endpoint.pk, target_label=name, before={"url": endpoint.url})  # fmt: skip
        endpoint.delete()


def endpoint_status(district: District) -> list[dict[str, Any]]:
    """Per endpoint: pending, failed and delivered counts, the lag of the oldest pending, the last success."""
    now = timezone.now()
    stats = _outbox_stats(
        WebhookDelivery.objects.filter(district=district), "endpoint_id", "occurred_at",
        {"pending": DeliveryStatus.PENDING, "failed": DeliveryStatus.FAILED, "delivered": DeliveryStatus.DELIVERED},
    )  # fmt: skip
    # Each endpoint's newest error, read with the endpoints (one query, however many endpoints).
    newest_error = (
        WebhookDelivery.objects.filter(district=district, endpoint=OuterRef("pk"))
        .exclude(last_error="")
        .order_by("-id")
        .values("last_error")[:1]
    )
    endpoints = WebhookEndpoint.objects.filter(district=district).annotate(
        newest_error=Subquery(newest_error)
    )
    result = []
    for endpoint in endpoints.order_by("name"):
        row = stats.get(endpoint.pk, {})
        result.append({
            "name": endpoint.name, "url": endpoint.url, "enabled": endpoint.enabled,
            "event_types": endpoint.event_list, "pending": row.get("pending", 0),
            "failed": row.get("failed", 0), "delivered": row.get("delivered", 0),
            "lag_seconds": _lag_seconds(now, row.get("oldest")),
            "last_success_at": endpoint.last_success_at, "last_error": endpoint.newest_error or "",
        })  # fmt: skip
    return result


def _outbox_stats(
    rows: QuerySet, owner: str, since: str, statuses: dict[str, str]
) -> dict[int, dict[str, Any]]:
    """Per owner (a SCIM target or a webhook endpoint) of outbox rows: a count per named status, and `oldest`,
    the `since` time of its oldest pending row — one grouped query for the status pages of both outboxes."""
    counts = {name: Count("id", filter=Q(status=status)) for name, status in statuses.items()}
    pending = Q(status=statuses["pending"])
    return {
        row[owner]: row for row in rows.values(owner).annotate(**counts, oldest=Min(since, filter=pending))
    }


def _lag_seconds(now: datetime, oldest: datetime | None) -> float:
    return round((now - oldest).total_seconds(), 1) if oldest else 0.0
