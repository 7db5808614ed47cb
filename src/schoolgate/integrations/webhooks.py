"""Delivering webhook events, signed, with retries.

Each delivery is an HTTP POST of a JSON body:

    {"id": "evt_42", "type": "account.revoked", "created": "2026-11-22T11:00:00+00:00", "district": "springfield",
     "data": {"account_id": 7, "sis_code": "p1", "kind": "contact", "state": "revoked",
              "reason": "no_students", "previous_state": "active"}}

with the headers

    Content-Type: application/json
    Schoolgate-Event: account.revoked
    Schoolgate-Delivery: evt_42               (the same on every retry of this delivery: deduplicate on it)
    Schoolgate-Signature: t=1795345200,v1=5257a869e7…

Verifying (the receiver): take `t` and `v1` from Schoolgate-Signature, compute
HMAC-SHA256(key = the endpoint's secret, message = f"{t}." + raw request body bytes) as lowercase hex, compare
it with `v1` in constant time, and refuse a `t` more than five minutes from your clock (a replay).
`verify_signature` below does exactly that. Several `v1=` values may appear while a secret is rotated;
any one matching is enough.

Outcomes: any 2xx is delivered. Anything else — another status, a timeout, a refused connection — is
retried after 2, 4, 8 … seconds (at most 30 minutes apart) and `failed` at MAX_ATTEMPTS. Claiming works as
for SCIM pushes (see core/lease.py): a short leasing transaction, then HTTP without one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import httpx
from django.utils import timezone

from schoolgate.core import lease
from schoolgate.core.models import District
from schoolgate.integrations import crypto
from schoolgate.integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from schoolgate.integrations.push import MAX_ATTEMPTS, backoff

logger = logging.getLogger(__name__)

TOLERANCE_SECONDS = 300
TIMEOUT = httpx.Timeout(5.0, connect=3.0)
SIGNATURE_HEADER = "Schoolgate-Signature"


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    claimed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"delivered": self.delivered, "retrying": self.retrying, "failed": self.failed}


# ── signing ────────────────────────────────────────────────────────────────────────────────────────────────


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The Schoolgate-Signature header value for `body` sent at `timestamp` (now by default)."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_signature(
    secret: str, header: str, body: bytes, *, tolerance: int = TOLERANCE_SECONDS, now: float | None = None
) -> bool:
    """True when `header` (Schoolgate-Signature) signs `body` with `secret` and is recent enough."""
    timestamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():  # isdigit() alone: "²" (int() fails), "٣"
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


def event_body(delivery: WebhookDelivery, district_slug: str) -> bytes:
    """The delivery's JSON body, byte-identical on every attempt."""
    if delivery.account_id is not None:
        data: dict[str, Any] = {
            "account_id": delivery.account_id,
            "sis_code": delivery.sis_code,
            "kind": delivery.kind,
            "state": delivery.state or None,
            "reason": delivery.reason or None,
            "previous_state": delivery.previous_state or None,
        }
    else:
        data = delivery.data or {}
    document = {
        "id": f"evt_{delivery.pk}",
        "type": delivery.event_type,
        "created": delivery.occurred_at.isoformat(),
        "district": district_slug,
        "data": data,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


# ── delivering ─────────────────────────────────────────────────────────────────────────────────────────────


def claim(limit: int) -> list[WebhookDelivery]:
    """Lease up to `limit` due deliveries on enabled endpoints, oldest first."""
    return lease.claim_due(
        WebhookDelivery,
        "endpoint",
        pending=DeliveryStatus.PENDING,
        limit=limit,
        order_by=("next_attempt_at", "id"),
    )


def deliver_due(limit: int = 20) -> DeliveryReport:
    """Claim one batch of due deliveries and send them; the report says how it went."""
    rows = claim(limit)
    report = DeliveryReport(claimed=len(rows))
    by_endpoint: dict[int, list[WebhookDelivery]] = defaultdict(list)
    for row in rows:
        by_endpoint[row.endpoint_id].append(row)
    for batch in by_endpoint.values():
        _deliver_endpoint(batch[0].endpoint, batch, report)
    return report


def _deliver_endpoint(endpoint: WebhookEndpoint, rows: list[WebhookDelivery], report: DeliveryReport) -> None:
    slug = District.objects.filter(pk=endpoint.district_id).values_list("slug", flat=True).get()
    try:
        secret = crypto.decrypt(endpoint.secret_encrypted)
    except crypto.UnreadableSecret as exc:
        for row in rows:
            _record(row, ok=False, code=None, error=str(exc), report=report)
        return
    delivered_before = report.delivered
    with httpx.Client(timeout=TIMEOUT) as client:
        for row in rows:
            body = event_body(row, slug)
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "Schoolgate-Webhooks/1",
                "Schoolgate-Event": row.event_type,
                "Schoolgate-Delivery": f"evt_{row.pk}",
                SIGNATURE_HEADER: sign(secret, body),
            }
            try:
                response = client.post(endpoint.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                _record(row, ok=False, code=None, error=f"{type(exc).__name__}: {exc}", report=report)
                continue
            ok = 200 <= response.status_code < 300
            error = "" if ok else f"answered {response.status_code}: {response.text[:200]}"
            _record(row, ok=ok, code=response.status_code, error=error, report=report)
    if report.delivered > delivered_before:
        WebhookEndpoint.objects.filter(pk=endpoint.pk, district_id=endpoint.district_id).update(
            last_success_at=timezone.now()
        )


def _record(row: WebhookDelivery, *, ok: bool, code: int | None, error: str, report: DeliveryReport) -> None:
    now = timezone.now()
    attempts = row.attempts + 1
    rows = WebhookDelivery.objects.filter(pk=row.pk, district_id=row.district_id)
    if ok:
        rows.update(status=DeliveryStatus.DELIVERED, attempts=attempts, delivered_at=now,
                    last_status_code=code, last_error="", next_attempt_at=now)  # fmt: skip
        report.delivered += 1
        return
    give_up = attempts >= MAX_ATTEMPTS
    rows.update(
        status=DeliveryStatus.FAILED if give_up else DeliveryStatus.PENDING,
        attempts=attempts,
        last_status_code=code,
        last_error=(error + (f" (gave up after {attempts} attempts)" if give_up else ""))[:2000],
        next_attempt_at=now if give_up else now + backoff(attempts),
    )
    if give_up:
        report.failed += 1
        logger.warning("webhook evt_%s to %s failed: %s", row.pk, row.endpoint.url, error)
    else:
        report.retrying += 1


def next_due_at() -> Any:
    """When the earliest pending delivery on an enabled endpoint is due (None if none waits)."""
    return lease.next_due_at(WebhookDelivery, "endpoint", pending=DeliveryStatus.PENDING)
