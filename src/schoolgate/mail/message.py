"""The bytes of one message as it goes on the wire (or into a .eml file): RFC 5322 with MIME.

    multipart/alternative
    ├── text/plain; charset=utf-8        quoted-printable
    └── text/html; charset=utf-8         quoted-printable
        (or multipart/related [text/html, image/png|jpeg with Content-ID] when the district has a logo)

Written out directly rather than with `email.message.EmailMessage`: the standard library's modern API parses
and refolds every header, and building and flattening a message with it cost about 1.7 ms, which alone held
delivery near the 200-per-second target. The structure is fixed and simple, and the tests read every message
back with the `email` package to check it.
"""

from __future__ import annotations

import binascii
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr

from django.conf import settings
from django.utils import timezone

from schoolgate.mail.models import MailBranding, OutboxMessage
from schoolgate.mail.render import LOGO_CID

CRLF = "\r\n"


@dataclass(frozen=True)
class Sender:
    """A district's From, Reply-To and logo, loaded once per batch."""

    from_header: str
    envelope_from: str
    reply_to: str
    logo: bytes | None
    logo_type: str


def sender_for(district_id: int, district_name: str) -> Sender:
    """From = the branding's sender name (or the district's name) + SCHOOLGATE_MAIL_FROM's address."""
    _, from_address = parseaddr(settings.SCHOOLGATE_MAIL_FROM)
    from_address = from_address or "no-reply@localhost"
    branding = MailBranding.objects.filter(district_id=district_id).first()
    name = _one_line(branding.sender_name if branding else "") or _one_line(district_name)
    return Sender(
        from_header=formataddr((name, from_address), charset="utf-8"),
        envelope_from=from_address,
        reply_to=_one_line(branding.reply_to) if branding else "",
        logo=bytes(branding.logo) if branding and branding.logo else None,
        logo_type=branding.logo_content_type if branding else "",
    )


def build_message(message: OutboxMessage, sender: Sender, now: datetime | None = None) -> bytes:
    """The complete message, CRLF line ends, ready for SMTP DATA or a .eml file."""
    domain = sender.envelope_from.rpartition("@")[2] or "localhost"
    alternative = _boundary()
    headers = [
        ("From", sender.from_header),
        ("To", message.to_address),
        ("Reply-To", sender.reply_to),
        ("Subject", _encoded(message.subject)),
        ("Date", format_datetime(now or timezone.now())),
        # The outbox id in the Message-ID ties a bounce or a complaint back to its row.
        ("Message-ID", f"<outbox.{message.pk}.{secrets.token_hex(8)}@{domain}>"),
        # RFC 3834: automatic mail; well-behaved auto-responders do not answer it.
        ("Auto-Submitted", "auto-generated"),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{alternative}"'),
    ]
    lines = [f"{name}: {value}" for name, value in headers if value]
    lines += ["", "This is a message in MIME format.", f"--{alternative}"]
    lines += _text_part("plain", message.text_body)
    lines.append(f"--{alternative}")
    if sender.logo and f"cid:{LOGO_CID}" in message.html_body:
        lines += _related(message.html_body, sender)
    else:
        lines += _text_part("html", message.html_body)
    lines += [f"--{alternative}--", ""]
    # Addresses may be international (sent with SMTPUTF8); everything else is ASCII by construction.
    return CRLF.join(lines).encode("utf-8")


def _related(html: str, sender: Sender) -> list[str]:
    related = _boundary()
    maintype, _, subtype = sender.logo_type.partition("/")
    lines = [f'Content-Type: multipart/related; boundary="{related}"; type="text/html"', "", f"--{related}"]
    lines += _text_part("html", html)
    lines += [
        f"--{related}",
        f"Content-Type: {maintype}/{subtype}",
        "Content-Transfer-Encoding: base64",
        f"Content-ID: <{LOGO_CID}>",
        f'Content-Disposition: inline; filename="logo.{subtype}"',
        "",
        *_base64_lines(sender.logo or b""),
        f"--{related}--",
    ]
    return lines


def _text_part(subtype: str, body: str) -> list[str]:
    normalised = body.replace("\r\n", "\n").replace("\r", "\n").replace("\n", CRLF)
    # Quoted-printable: readable where it is ASCII, lines of at most 76 characters, and "=" is always
    # encoded, so the "=="-bearing boundaries below can never occur in a body.
    encoded = binascii.b2a_qp(normalised.encode("utf-8"), istext=True).decode("ascii")
    return [
        f'Content-Type: text/{subtype}; charset="utf-8"',
        "Content-Transfer-Encoding: quoted-printable",
        "",
        encoded,
    ]


def _base64_lines(data: bytes) -> list[str]:
    encoded = binascii.b2a_base64(data, newline=False).decode("ascii")
    return [encoded[i : i + 76] for i in range(0, len(encoded), 76)]


def _boundary() -> str:
    return f"=_sg{secrets.token_hex(12)}=="


def _encoded(value: str) -> str:
    """A header value: as it is when ASCII, RFC 2047 encoded-words when not."""
    value = _one_line(value)
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name="Subject").encode(linesep=CRLF)


def _one_line(value: str) -> str:
    # Headers are built from data (names, subjects): a line break in one must never start a new header.
    return " ".join(value.split())
