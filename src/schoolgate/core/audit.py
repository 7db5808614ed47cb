"""Writing the audit log.

Audit events are written explicitly by the domain function that makes a change, inside its transaction, with
a named actor; never from signals (signals miss changes made by scripts and jobs). Secrets never enter the
log: `record` strips any key that looks like one.
"""

from __future__ import annotations

import getpass
from typing import Any

from django.utils import timezone

from schoolgate.core import changes
from schoolgate.core.models import AuditEvent, District

# Named actors for work no person started directly.
SYSTEM_SYNC = "system:sync"
SYSTEM_WORKER = "system:worker"
SYSTEM_EXPIRY = "system:expiry"  # an override whose end date came

_SECRET_KEYS = {"password", "password_hash", "token", "nonce", "secret"}


def cli_actor() -> str:
    """The actor for a command typed at a shell: the operating-system user, so the log says who."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli:unknown"


def _clean(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return {k: ("[removed]" if k in _SECRET_KEYS else v) for k, v in values.items()}


def record(
    district: District | None,
    actor: str,
    action: str,
    *,
    target_type: str,
    target_id: int | None = None,
    target_label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    run_id: int | None = None,
) -> AuditEvent | None:
    """Write one audit event; a change whose before equals its after is not an event and is skipped."""
    if before is not None and after is not None and before == after:
        return None
    if target_type == "account" and target_id is not None and district is not None:
        changes.account_changed(district.pk, target_id)  # integrations hear of it in this same transaction
    return AuditEvent.objects.create(
        district=district,
        at=timezone.now(),
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        before=_clean(before),
        after=_clean(after),
        run_id=run_id,
    )
