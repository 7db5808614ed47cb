"""Delivering the outbox: claim due messages, send them over one SMTP connection, record each outcome.

    deliver_due(limit=500) -> DeliveryReport(sent, retrying, failed)

SCHOOLGATE_SMTP_URL chooses the transport:

    smtp://[user:password@]host[:port][?timeout=SECONDS]    port 25; STARTTLS whenever the server offers it
    smtps://[user:password@]host[:port][?timeout=SECONDS]   port 465; TLS from the first byte
    (empty)                                                 each message is written to SCHOOLGATE_MAIL_DIR
                                                            as an RFC 5322 .eml file (the embedded default)

User and password are percent-decoded (`%40` for "@"). Certificates are verified against the system's CAs.

Outcomes. Accepted: `sent`. A 4xx reply, a timeout or a lost connection: `retrying`, after 1, 2, 4 … minutes
(at most an hour between tries), `failed` at the 8th attempt. A 5xx reply: `failed` at once, and when the
server refused the recipient (RCPT) the bounce is recorded on the person (`email_bounced_at`, the doctor's
`email_bounced`); a refused sender address is our configuration, not the message's, and is retried. A
dropped connection (or a 421) is reopened once per batch; after that the rest of the batch waits for its
retry.

Two workers never send one message: a worker claims its batch in one short transaction (core/lease.py:
`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers) by moving the rows'
`next_attempt_at` a lease ahead, then sends without holding a transaction, recording each message as soon as
the server has answered. A worker that dies mid-batch leaves its messages to be taken again when the lease
ends (at-least-once delivery).
"""

from __future__ import annotations

import contextlib
import logging
import os
import smtplib
import ssl
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from schoolgate.core import audit, lease
from schoolgate.mail.message import Sender, build_message, sender_for
from schoolgate.mail.models import PENDING_STATUSES, OutboxMessage, OutboxStatus
from schoolgate.people.models import Person

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(hours=1)
# Long enough for a batch to finish; a batch that runs for half of it stops and hands the rest back. Longer
# than core.lease.LEASE, the integrations' lease.
LEASE = timedelta(minutes=15)
DEFAULT_TIMEOUT = 30.0
ACTOR = "system:mail"


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    claimed: int = 0  # messages this call took from the queue (sent + retrying + failed + handed back)

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.sent + other.sent,
            self.retrying + other.retrying,
            self.failed + other.failed,
            self.claimed + other.claimed,
        )

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "retrying": self.retrying, "failed": self.failed}


# ── the SMTP URL ───────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = DEFAULT_TIMEOUT


def parse_smtp_url(url: str) -> SmtpConfig:
    """SCHOOLGATE_SMTP_URL as a SmtpConfig; ValueError (without the password) when it is malformed."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(f"SCHOOLGATE_SMTP_URL must start with smtp:// or smtps://, not {parts.scheme!r}://")
    if not parts.hostname:
        raise ValueError("SCHOOLGATE_SMTP_URL names no host (smtp://user:password@host:port)")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"timeout"}
    if unknown:
        raise ValueError(
            f"SCHOOLGATE_SMTP_URL: unknown option(s) {', '.join(sorted(unknown))} (known: timeout)"
        )
    try:
        timeout = float(query["timeout"][-1]) if "timeout" in query else DEFAULT_TIMEOUT
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"SCHOOLGATE_SMTP_URL: {exc}") from None
    if timeout <= 0:
        raise ValueError("SCHOOLGATE_SMTP_URL: timeout must be more than 0 seconds")
    implicit = parts.scheme == "smtps"
    return SmtpConfig(
        host=parts.hostname,
        port=port or (465 if implicit else 25),
        implicit_tls=implicit,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        timeout=timeout,
    )


# ── transports ─────────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Outcome:
    status: str  # OutboxStatus.SENT | RETRYING (transient) | FAILED (permanent)
    error: str = ""
    bounce: bool = False  # the server refused the recipient address itself


SENT = Outcome(OutboxStatus.SENT)


def _reply(code: int, text: bytes | str) -> str:
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(text.split())}".strip()


def _by_code(code: int, error: str, *, bounce: bool = False) -> Outcome:
    if 500 <= code < 600:
        return Outcome(OutboxStatus.FAILED, error, bounce=bounce)
    return Outcome(OutboxStatus.RETRYING, error)


class SmtpTransport:
    """One SMTP connection for a whole batch, reopened at most once if it drops."""

    MAX_OPENS = 2  # the first connection and one reconnection

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.conn: smtplib.SMTP | None = None
        self.opens = 0
        self.down: str | None = None  # why no connection can be had any more in this batch

    def send(self, data: bytes, envelope_from: str, to_address: str, label: str) -> Outcome:
        while True:
            if self.conn is None:
                if self.down is not None:
                    return Outcome(OutboxStatus.RETRYING, self.down)
                try:
                    self.conn = self._open()
                except OSError as exc:  # refused, unreachable, TLS, greeting or login refused (SMTPException)
                    self.down = f"cannot connect to {self.config.host}:{self.config.port}: {_describe(exc)}"
                    return Outcome(OutboxStatus.RETRYING, self.down)
            try:
                self._sendmail(data, envelope_from, to_address)
                return SENT
            except smtplib.SMTPRecipientsRefused as exc:
                code, text = exc.recipients.get(to_address, (450, b"refused"))
                lost, outcome = code == 421, _by_code(code, _reply(code, text), bounce=True)
            except smtplib.SMTPSenderRefused as exc:
                # Our sender address refused is our configuration, not this message: retry, never fail it.
                reply = _reply(exc.smtp_code, exc.smtp_error)
                lost, outcome = (
                    exc.smtp_code == 421,
                    Outcome(OutboxStatus.RETRYING, f"sender refused: {reply}"),
                )
            except smtplib.SMTPNotSupportedError as exc:  # e.g. an international address, no SMTPUTF8
                lost, outcome = (
                    False,
                    Outcome(OutboxStatus.FAILED, f"the mail server cannot take this: {exc}"),
                )
            except smtplib.SMTPResponseException as exc:  # SMTPDataError and the rest
                reply = _reply(exc.smtp_code, exc.smtp_error)
                lost, outcome = exc.smtp_code == 421, _by_code(exc.smtp_code, reply)
            except OSError as exc:  # SMTPServerDisconnected, a reset, a timeout (SMTPException is an OSError)
                lost, outcome = True, Outcome(OutboxStatus.RETRYING, f"connection lost: {_describe(exc)}")
            if not lost:
                return outcome
            # 421 (the server is closing the channel) or a dropped connection: this message was not
            # delivered; try it again on a new connection, once per batch.
            logger.warning("mail server connection lost: %s", outcome.error)
            self._discard()
            if self.opens >= self.MAX_OPENS:
                self.down = f"connection to the mail server lost twice in one batch: {outcome.error}"
                return Outcome(OutboxStatus.RETRYING, self.down)

    def _sendmail(self, data: bytes, envelope_from: str, to_address: str) -> None:
        assert self.conn is not None
        if (envelope_from + to_address).isascii():
            self.conn.sendmail(envelope_from, [to_address], data)
            return
        # An international address: only a server offering SMTPUTF8 may be given one (RFC 6531).
        self.conn.ehlo_or_helo_if_needed()
        if not self.conn.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError(
                "the server does not accept international addresses (SMTPUTF8)"
            )
        self.conn.command_encoding = "utf-8"
        try:
            self.conn.sendmail(envelope_from, [to_address], data, mail_options=["SMTPUTF8"])
        finally:
            self.conn.command_encoding = "ascii"

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.conn.quit()
            self._discard()

    def _open(self) -> smtplib.SMTP:
        self.opens += 1
        cfg = self.config
        conn: smtplib.SMTP
        if cfg.implicit_tls:
            conn = smtplib.SMTP_SSL(
                cfg.host, cfg.port, timeout=cfg.timeout, context=ssl.create_default_context()
            )
        else:
            conn = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        try:
            conn.ehlo()
            if not cfg.implicit_tls and conn.has_extn("starttls"):
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if cfg.username:
                conn.login(cfg.username, cfg.password)
        except BaseException:
            with contextlib.suppress(OSError):
                conn.close()
            raise
        return conn

    def _discard(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.close()
        self.conn = None


class FileTransport:
    """Writes each message to a .eml file (RFC 5322, CRLF line ends) in a folder; the embedded default."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def send(self, data: bytes, envelope_from: str, to_address: str, label: str) -> Outcome:
        name = f"{timezone.now():%Y%m%d-%H%M%S}-{label}.eml"
        # Written under a temporary name and renamed, so a reader never sees half a message.
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, self.folder / name)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return Outcome(OutboxStatus.RETRYING, f"cannot write to {self.folder}: {exc}")
        return SENT

    def close(self) -> None:
        pass


def make_transport() -> SmtpTransport | FileTransport:
    url = settings.SCHOOLGATE_SMTP_URL
    if url:
        return SmtpTransport(parse_smtp_url(url))
    return FileTransport(settings.SCHOOLGATE_MAIL_DIR)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply(exc.smtp_code, exc.smtp_error)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


# ── delivery ───────────────────────────────────────────────────────────────────────────────────────────────


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try: 1, 2, 4 … minutes, at most MAX_BACKOFF."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def deliver_due(limit: int = 500) -> DeliveryReport:
    """Send up to `limit` due messages, oldest first, over one connection; record each outcome."""
    transport = make_transport()  # first: a configuration error must not leave a batch claimed and unsent
    batch = _claim(limit)
    report = DeliveryReport(claimed=len(batch))
    if not batch:
        return report
    senders: dict[int, Sender] = {}
    started = time.monotonic()
    try:
        for index, message in enumerate(batch):
            if time.monotonic() - started > LEASE.total_seconds() / 2:
                _hand_back(batch[index:])
                break
            try:
                sender = senders.get(message.district_id)
                if sender is None:
                    sender = senders[message.district_id] = sender_for(
                        message.district_id, message.district.name
                    )
                data = build_message(message, sender)
                outcome = transport.send(
                    data, sender.envelope_from, message.to_address, f"outbox-{message.pk}"
                )
            except Exception as exc:  # a bug or bad data in one message must not strand the rest of the batch
                logger.exception("mail: outbox message %s could not be sent", message.pk)
                outcome = Outcome(OutboxStatus.RETRYING, f"internal error: {_describe(exc)}")
            status = _record(message, outcome)
            if status == OutboxStatus.SENT:
                report.sent += 1
            elif status == OutboxStatus.RETRYING:
                report.retrying += 1
            else:
                report.failed += 1
    finally:
        transport.close()
    return report


def drain(batch_size: int = 500) -> DeliveryReport:
    """deliver_due until a batch comes back short: everything due now has had its try."""
    total = DeliveryReport()
    while True:
        report = deliver_due(batch_size)
        total += report
        # A short batch: nothing more is due. A full batch with no answer at all (every message waiting for
        # a retry): the server is down, and going on would only age the rest of the queue for nothing.
        if report.claimed < batch_size or report.sent + report.failed == 0:
            return total


def next_due_at() -> datetime | None:
    """When the earliest undelivered message may next be tried (None: nothing is waiting)."""
    return lease.next_due_at(OutboxMessage, pending=PENDING_STATUSES)


def _claim(limit: int) -> list[OutboxMessage]:
    """Lease up to `limit` due messages, oldest first, in that order (deliver_due hands back the list's tail)."""
    messages = lease.claim_due(
        OutboxMessage,
        pending=PENDING_STATUSES,
        limit=limit,
        order_by=("created_at", "id"),
        related=("district",),
        lease=LEASE,
    )
    messages.sort(key=attrgetter("created_at", "id"))
    return messages


def _hand_back(messages: list[OutboxMessage]) -> None:
    OutboxMessage.objects.filter(pk__in=[m.pk for m in messages]).update(next_attempt_at=timezone.now())


def _record(message: OutboxMessage, outcome: Outcome) -> str:
    now = timezone.now()
    attempts = message.attempts + 1
    status, error = outcome.status, outcome.error[:500]
    changes: dict = {"attempts": attempts, "last_error": error}
    if status == OutboxStatus.SENT:
        changes.update(status=status, sent_at=now, next_attempt_at=None)
    elif status == OutboxStatus.RETRYING and attempts < MAX_ATTEMPTS:
        changes.update(status=status, next_attempt_at=now + backoff(attempts))
    else:
        if status == OutboxStatus.RETRYING:
            error = f"gave up after {attempts} attempts; last: {error}"[:500]
        status = OutboxStatus.FAILED
        changes.update(status=status, next_attempt_at=None, last_error=error)
    with transaction.atomic():
        OutboxMessage.objects.filter(pk=message.pk).update(**changes)
        if outcome.bounce and status == OutboxStatus.FAILED and message.person_id:
            _record_bounce(message, outcome.error, now)
        elif status == OutboxStatus.SENT and message.person_id:
            # Accepted by the address on record: a bounce recorded for it earlier no longer holds.
            Person.objects.filter(
                pk=message.person_id, district_id=message.district_id, email__iexact=message.to_address,
                email_bounced_at__isnull=False,
            ).update(email_bounced_at=None, email_bounce_reason="")  # fmt: skip
    return status


def _record_bounce(message: OutboxMessage, reason: str, now: datetime) -> None:
    # Only when the person still has this address: a bounce from an address since replaced says nothing
    # about the one on record.
    person = Person.objects.filter(
        pk=message.person_id, district_id=message.district_id, email__iexact=message.to_address
    ).first()
    if person is None:
        return
    before = {"email_bounced_at": person.email_bounced_at and person.email_bounced_at.isoformat()}
    Person.objects.filter(pk=person.pk).update(email_bounced_at=now, email_bounce_reason=reason[:255])
    audit.record(
        message.district, ACTOR, "person.email_bounced", target_type="person", target_id=person.pk,
        target_label=person.sis_code, before=before,
        after={"email": message.to_address, "email_bounced_at": now.isoformat(), "reason": reason[:255],
               "outbox_message": message.pk},
    )  # fmt: skip
