"""The outbox: messages are rendered and stored in the caller's transaction, and delivered after it commits.

    enqueue(district, "welcome", person.email, {...}, person=person, account_id=account.pk)

Storing the message with the change that caused it is what makes "a rolled-back change sends nothing" true
without any coordination: the row and the change commit or vanish together. After the commit the delivery
task is queued once per transaction (not once per message: provisioning a school queues thousands).
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from schoolgate.core.background import after_commit_once
from schoolgate.core.models import District
from schoolgate.mail.models import PENDING_STATUSES, OutboxMessage, OutboxStatus
from schoolgate.mail.render import render
from schoolgate.people.models import Person

logger = logging.getLogger(__name__)

MAX_ADDRESS_LENGTH = 320
# Characters that cannot appear in a plain address and would break the To header or the SMTP envelope.
_FORBIDDEN_IN_ADDRESS = set('<>,;"()[]\\')


def check_address(address: str) -> str:
    """The address, if it is not obviously unusable; ValueError naming it otherwise.

    Deliberately shallow: the receiving server is the authority on whether an address exists (a 5xx reply is
    recorded as a bounce). This only stops what cannot be sent at all.
    """
    problem = None
    local, at, domain = address.rpartition("@")
    if not address:
        problem = "it is empty"
    elif len(address) > MAX_ADDRESS_LENGTH:
        problem = f"it is {len(address)} characters long (at most {MAX_ADDRESS_LENGTH})"
    elif any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in address):
        problem = "it contains whitespace or control characters"
    elif not at:
        problem = 'it has no "@"'
    elif not local or not domain:
        problem = 'it has nothing before or after the "@"'
    elif "@" in local or _FORBIDDEN_IN_ADDRESS.intersection(address):
        problem = "it contains characters an address cannot have here"
    elif domain.startswith(".") or domain.endswith(".") or ".." in domain:
        problem = "its domain is malformed"
    if problem:
        raise ValueError(f"cannot send e-mail to {address!r}: {problem}")
    return address


def enqueue(
    district: District,
    key: str,
    to_address: str,
    context: dict[str, Any],
    *,
    person: Person | None = None,
    account_id: int | None = None,
) -> OutboxMessage:
    """Render message `key` and store it for delivery; delivery is triggered when the transaction commits."""
    check_address(to_address)
    if person is not None and person.district_id != district.pk:
        raise ValueError(f"person {person.pk} belongs to another district than {district.slug!r}")
    rendered = render(district, key, context)
    now = timezone.now()
    message = OutboxMessage.objects.create(
        district=district,
        key=key,
        to_address=to_address,
        subject=rendered.subject,
        text_body=rendered.text,
        html_body=rendered.html,
        person=person,
        account_id=account_id,
        status=OutboxStatus.QUEUED,
        next_attempt_at=now,
        created_at=now,
    )
    after_commit_once(_kick)
    return message


def pending_count(district: District | None = None) -> int:
    """Messages not yet delivered (queued, or waiting to be retried)."""
    messages = OutboxMessage.objects.filter(status__in=PENDING_STATUSES)
    if district is not None:
        messages = messages.filter(district=district)
    return messages.count()


def _kick() -> None:
    from schoolgate.mail.tasks import schedule_delivery  # tasks imports the sender, which is heavier

    schedule_delivery()
