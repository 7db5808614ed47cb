"""`schoolgate mail deliver`, `schoolgate mail list SLUG [--status S]` and `schoolgate mail branding SLUG …`.

`deliver` sends every message due now (what the background task does) and prints the counts; `list` shows a
district's outbox, newest first; `branding` sets the sender name, Reply-To and logo every message carries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandParser
from django.db import transaction

from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand, json_flag
from schoolgate.mail.models import LOGO_MAX_BYTES, MailBranding, OutboxMessage, OutboxStatus
from schoolgate.mail.outbox import pending_count
from schoolgate.mail.sender import drain


class Command(SchoolgateCommand):
    help = "Deliver queued e-mail now, list a district's outbox, or set its mail branding."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        deliver = sub.add_parser("deliver", help="send every message that is due now and print the counts")
        deliver.add_argument("--batch", type=int, default=500, help="messages per SMTP connection")
        json_flag(deliver)
        lst = sub.add_parser("list", help="a district's outbox, newest first")
        lst.add_argument("slug")
        lst.add_argument("--status", choices=OutboxStatus.values)
        lst.add_argument("--limit", type=int, default=50, help="at most this many messages (default 50)")
        json_flag(lst)
        brand = sub.add_parser("branding", help="show or set the sender name, Reply-To and logo")
        brand.add_argument("slug")
        brand.add_argument("--sender-name", help="the From name (empty: the district's name)")
        brand.add_argument("--reply-to", help="the Reply-To address (empty: none)")
        logo = brand.add_mutually_exclusive_group()
        logo.add_argument(
            "--logo", type=Path, help=f"a PNG or JPEG file of at most {LOGO_MAX_BYTES // 1024} KiB"
        )
        logo.add_argument("--no-logo", action="store_true", help="remove the logo")
        json_flag(brand)

    def run(self, **options: Any) -> tuple[dict, Any]:
        action = options["action"]
        if action == "deliver":
            return self.deliver(options["batch"]), self.render_deliver
        if action == "list":
            return self.listing(options), self.render_list
        return self.branding(options), self.render_branding

    def deliver(self, batch: int) -> dict[str, Any]:
        if batch < 1:
            raise InputRejected(f"--batch {batch} must be at least 1")
        try:
            report = drain(batch)
        except ValueError as exc:  # a malformed SCHOOLGATE_SMTP_URL
            raise InputRejected(str(exc)) from None
        return {**report.as_dict(), "pending": pending_count()}

    def listing(self, options: dict[str, Any]) -> dict[str, Any]:
        district = self.district(options["slug"])
        if options["limit"] < 1:
            raise InputRejected(f"--limit {options['limit']} must be at least 1")
        messages = OutboxMessage.objects.filter(district=district)
        if options["status"]:
            messages = messages.filter(status=options["status"])
        total = messages.count()
        rows = [
            {
                "id": m.pk,
                "key": m.key,
                "to": m.to_address,
                "subject": m.subject,
                "status": m.status,
                "attempts": m.attempts,
                "created_at": m.created_at.isoformat(),
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
                "next_attempt_at": (
                    m.next_attempt_at.isoformat() if m.next_attempt_at and m.status != "sent" else None
                ),
                "last_error": m.last_error,
                "person": m.person.sis_code if m.person_id else None,
                "account_id": m.account_id,
            }
            for m in messages.select_related("person").order_by("-created_at", "-id")[: options["limit"]]
        ]
        return {"district": district.slug, "total": total, "messages": rows}

    def branding(self, options: dict[str, Any]) -> dict[str, Any]:
        district = self.district(options["slug"])
        branding = MailBranding.objects.filter(district=district).first() or MailBranding(district=district)
        before = self.describe(branding)
        if options["sender_name"] is not None:
            branding.sender_name = options["sender_name"].strip()
        if options["reply_to"] is not None:
            branding.reply_to = options["reply_to"].strip()
        if options["no_logo"]:
            branding.logo = None
        elif options["logo"] is not None:
            try:
                branding.logo = options["logo"].read_bytes()
            except OSError as exc:
                raise InputRejected(f"cannot read {options['logo']}: {exc.strerror}") from None
        try:
            branding.full_clean(exclude=["district"])
        except ValidationError as exc:
            raise InputRejected(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from None
        after = self.describe(branding)
        if after != before:
            with transaction.atomic():
                branding.save()
                audit.record(
                    district, audit.cli_actor(), "mail.branding_changed", target_type="district",
                    target_id=district.pk, target_label=district.slug, before=before, after=after,
                )  # fmt: skip
        return {"district": district.slug, "branding": after}

    @staticmethod
    def describe(branding: MailBranding) -> dict[str, Any]:
        logo = bytes(branding.logo) if branding.logo else b""
        return {
            "sender_name": branding.sender_name or branding.district.name,
            "sender_name_set": bool(branding.sender_name),
            "reply_to": branding.reply_to,
            "logo": {"content_type": branding.logo_content_type, "bytes": len(logo)} if logo else None,
        }

    def render_deliver(self, doc: dict) -> None:
        self.stdout.write(
            f"sent {doc['sent']}, retrying {doc['retrying']}, failed {doc['failed']}; "
            f"{doc['pending']} still waiting"
        )

    def render_list(self, doc: dict) -> None:
        from rich.table import Table

        table = Table(title=f"{doc['district']}: {doc['total']} message(s), newest first")
        for column in ("id", "created", "key", "to", "status", "tries", "error"):
            table.add_column(column)
        for row in doc["messages"]:
            table.add_row(
                str(row["id"]), row["created_at"][:16].replace("T", " "), row["key"], row["to"],
                row["status"], str(row["attempts"]), row["last_error"],
            )  # fmt: skip
        self.console().print(table)

    def render_branding(self, doc: dict) -> None:
        b = doc["branding"]
        logo = b["logo"]
        logo_text = f"{logo['content_type']}, {logo['bytes']:,} bytes" if logo else "(none)"
        self.stdout.write(f"From name: {b['sender_name']}")
        self.stdout.write(f"Reply-To:  {b['reply_to'] or '(none)'}")
        self.stdout.write(f"Logo:      {logo_text}")
