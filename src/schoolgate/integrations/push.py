"""Pushing accounts to SCIM targets: claim due rows, send each account's current state, record the outcome.

    push_due(priority, limit) -> PushReport(pushed, retrying, failed, claimed)

Claiming (core/lease.py, shared with webhooks and mail). A worker takes a batch in one short transaction
(`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers) and leases it by moving
`next_attempt_at` a lease ahead; it then talks HTTP without holding a transaction. A worker that dies leaves
its rows to be taken again when the lease ends. The claim is the one query that spans districts (the worker
serves them all, in priority order); everything after it is scoped to the claimed row's district.

Ordering. Revocations (priority 0) are claimed separately, in small batches, before anything else; the
task (tasks.py) goes back to them between every batch of provisioning, so a revocation waits at most for one
small batch in flight, never for a backlog. Per account, order needs no bookkeeping: the row is pushed with
the account's state at push time, and a change during the push bumps the row's version, so the row stays
pending and is pushed again.

What is sent. Unknown downstream: POST /Users (a 409 adopts the existing user found by externalId, then
PUT). Known: PUT /Users/{id} with the full representation (a 404 forgets the id and creates again).
Inactive (revoked, ready_to_provision, deleted): PATCH active=false, only if the user exists downstream.
An unchanged representation (same digest as last pushed) is not sent again.

Retries. Network errors, timeouts, 408, 429, 5xx, 401 and 403 (a token being fixed) are retried after
2, 4, 8 … seconds (at most 30 minutes apart); at MAX_ATTEMPTS the row is `failed`. Other 4xx are failed at
once (the representation itself was refused). A failed row is retried on the account's next change or with
`schoolgate integrations retry`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from django.db import connection
from django.utils import timezone

from schoolgate.core import lease, sql
from schoolgate.core.models import District
from schoolgate.integrations import crypto
from schoolgate.integrations.models import PushStatus, ScimPush, ScimTarget
from schoolgate.integrations.payload import Desired, deactivation, desired_states

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
FIRST_BACKOFF = timedelta(seconds=2)
MAX_BACKOFF = timedelta(minutes=30)
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
RETRYABLE_CODES = {401, 403, 408, 429}
SCIM_JSON = "application/scim+json"


@dataclass
class PushReport:
    pushed: int = 0
    retrying: int = 0
    failed: int = 0
    claimed: int = 0

    def __iadd__(self, other: PushReport) -> PushReport:
        self.pushed += other.pushed
        self.retrying += other.retrying
        self.failed += other.failed
        self.claimed += other.claimed
        return self

    def as_dict(self) -> dict[str, int]:
        return {"pushed": self.pushed, "retrying": self.retrying, "failed": self.failed}


class PushError(Exception):
    """A push that did not go through; `retry` says whether trying again may help."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    return min(FIRST_BACKOFF * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


# ── claiming ───────────────────────────────────────────────────────────────────────────────────────────────


def claim(priority: int, limit: int) -> list[ScimPush]:
    """Lease up to `limit` due rows of `priority` on enabled targets, oldest due first."""
    return lease.claim_due(
        ScimPush, "target", pending=PushStatus.PENDING, limit=limit, where={"priority": priority}
    )


def push_due(priority: int, limit: int) -> PushReport:
    """Claim one batch of `priority` and push it; the report says how it went."""
    rows = claim(priority, limit)
    report = PushReport(claimed=len(rows))
    by_target: dict[int, list[ScimPush]] = defaultdict(list)
    for row in rows:
        by_target[row.target_id].append(row)
    for batch in by_target.values():
        report += _push_target(batch[0].target, batch)
    return report


# ── pushing ────────────────────────────────────────────────────────────────────────────────────────────────


def _push_target(target: ScimTarget, rows: list[ScimPush]) -> PushReport:
    report = PushReport()
    district = District.objects.get(pk=target.district_id)
    try:
        token = crypto.decrypt(target.token_encrypted)
    except crypto.UnreadableSecret as exc:
        for row in rows:
            _record_failure(row, PushError(str(exc), retry=True), report)
        _note_target(target, error=str(exc))
        return report
    wanted = desired_states(district, [row.account_id for row in rows])
    headers = {"Authorization": f"Bearer {token}", "Accept": SCIM_JSON, "Content-Type": SCIM_JSON}
    last_error = ""
    # One connection (keep-alive) per target and batch.
    with httpx.Client(base_url=target.base_url.rstrip("/"), headers=headers, timeout=TIMEOUT) as client:
        for row in rows:
            desired = wanted[row.account_id]
            try:
                downstream_id = _push_one(client, row, desired)
            except PushError as exc:
                last_error = str(exc)
                _record_failure(row, exc, report)
                continue
            _record_success(row, downstream_id, desired.digest)
            report.pushed += 1
    _note_target(target, error=last_error, success=report.pushed > 0)
    return report


def _push_one(client: httpx.Client, row: ScimPush, desired: Desired) -> str:
    """Make downstream hold `desired`; the downstream id (empty if the user never existed there)."""
    if desired.digest == row.last_pushed_hash and (row.downstream_id or not desired.active):
        return row.downstream_id
    if not desired.active:
        if not row.downstream_id:
            return ""  # never created downstream: nothing to switch off
        response = _send(client, "PATCH", f"/Users/{row.downstream_id}", deactivation())
        if response.status_code == 404:
            return ""  # already gone downstream: nothing can log in with it
        _check(response)
        return row.downstream_id
    assert desired.user is not None
    if row.downstream_id:
        response = _send(
            client, "PUT", f"/Users/{row.downstream_id}", {**desired.user, "id": row.downstream_id}
        )
        if response.status_code != 404:
            _check(response)
            return row.downstream_id
    response = _send(client, "POST", "/Users", desired.user)
    if response.status_code == 409:  # the user exists downstream already (an earlier run, or by hand)
        existing = _find(client, desired)
        response = _send(client, "PUT", f"/Users/{existing}", {**desired.user, "id": existing})
        _check(response)
        return existing
    _check(response)
    created = _json(response).get("id")
    if not created:
        raise PushError(f"POST /Users answered {response.status_code} without an id", retry=False)
    return str(created)


def _find(client: httpx.Client, desired: Desired) -> str:
    assert desired.user is not None
    for attribute in ("externalId", "userName"):
        value = desired.user[attribute].replace("\\", "\\\\").replace('"', '\\"')
        response = _send(client, "GET", "/Users", params={"filter": f'{attribute} eq "{value}"', "count": 2})
        _check(response)
        found = _json(response).get("Resources") or []
        if len(found) == 1 and found[0].get("id"):
            return str(found[0]["id"])
    raise PushError(
        f"POST /Users answered 409 (exists) for {desired.sis_code}, but no user with that externalId or "
        "userName could be found",
        retry=False,
    )


def _send(
    client: httpx.Client, method: str, path: str, body: Any = None, params: dict | None = None
) -> httpx.Response:
    try:
        return client.request(method, path, json=body, params=params)
    except httpx.HTTPError as exc:
        raise PushError(f"{method} {path}: {type(exc).__name__}: {exc}", retry=True) from None


def _check(response: httpx.Response) -> None:
    code = response.status_code
    if 200 <= code < 300:
        return
    detail = ""
    try:
        detail = str(response.json().get("detail") or "")
    except ValueError:
        detail = response.text[:200]
    message = f"{response.request.method} {response.request.url.path} answered {code}" + (
        f": {detail}" if detail else ""
    )
    raise PushError(message, retry=code >= 500 or code in RETRYABLE_CODES)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# ── recording outcomes ─────────────────────────────────────────────────────────────────────────────────────


def _record_success(row: ScimPush, downstream_id: str, digest: str) -> None:
    push = sql.table(ScimPush)
    now = sql.db_datetime(timezone.now())
    # Still the version we pushed: done. A change arrived meanwhile: pending again, due now.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {push} SET
                    status = CASE WHEN version = %s THEN '{PushStatus.DONE}' ELSE '{PushStatus.PENDING}' END,
                    dirty_since = CASE WHEN version = %s THEN NULL ELSE dirty_since END,
                    attempts = 0, next_attempt_at = %s, last_error = '',
                    downstream_id = %s, last_pushed_at = %s, last_pushed_hash = %s
                WHERE id = %s AND district_id = %s""",
            [row.version, row.version, now, downstream_id, now, digest, row.pk, row.district_id],
        )


def _record_failure(row: ScimPush, error: PushError, report: PushReport) -> None:
    push = sql.table(ScimPush)
    attempts = row.attempts + 1
    give_up = not error.retry or attempts >= MAX_ATTEMPTS
    now = timezone.now()
    status = PushStatus.FAILED if give_up else PushStatus.PENDING
    due = now if give_up else now + backoff(attempts)
    message = str(error)[:2000] + (f" (gave up after {attempts} attempts)" if give_up and error.retry else "")
    with connection.cursor() as cursor:
        # A change that arrived during the attempt wins over giving up: it resets attempts itself.
        cursor.execute(
            f"""UPDATE {push} SET
                    status = CASE WHEN version = %s THEN %s ELSE '{PushStatus.PENDING}' END,
                    attempts = CASE WHEN version = %s THEN %s ELSE 0 END,
                    next_attempt_at = CASE WHEN version = %s THEN %s ELSE %s END,
                    last_error = %s
                WHERE id = %s AND district_id = %s""",
            [row.version, status, row.version, attempts, row.version, sql.db_datetime(due),
             sql.db_datetime(now), message, row.pk, row.district_id],
        )  # fmt: skip
    if give_up:
        report.failed += 1
        logger.warning("SCIM push of account %s to %s failed: %s", row.account_id, row.target.name, message)
    else:
        report.retrying += 1


def _note_target(target: ScimTarget, *, error: str = "", success: bool = False) -> None:
    now = timezone.now()
    fields: dict[str, Any] = {}
    if success:
        fields["last_success_at"] = now
    if error:
        fields.update(last_error=error[:2000], last_error_at=now)
    if fields:
        ScimTarget.objects.filter(pk=target.pk, district_id=target.district_id).update(**fields)


def next_due_at() -> Any:
    """When the earliest pending push on an enabled target is due (None if none waits)."""
    return lease.next_due_at(ScimPush, "target", pending=PushStatus.PENDING)
