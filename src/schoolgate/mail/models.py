"""Mail: per-district template overrides, per-district branding, and the outbox of messages to deliver.

The outbox is written in the caller's transaction (see `outbox.enqueue`), so a change that rolls back sends
nothing; the worker (`sender.deliver_due`) then delivers it at least once and records the outcome on the row.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from schoolgate.core.models import District
from schoolgate.people.models import Person

# Tags that would let a template reach beyond the context it is given (other templates, tag libraries, a
# dump of the context): district admins write overrides, so overrides may not use them.
_UNSAFE_TAGS = re.compile(r"{%-?\s*(load|include|extends|debug|ssi)\b")

LOGO_MAX_BYTES = 200 * 1024
LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def logo_content_type(data: bytes) -> str | None:
    """image/png or image/jpeg from the file's first bytes; None for anything else."""
    for magic, content_type in LOGO_TYPES.items():
        if data.startswith(magic):
            return content_type
    return None


class MailTemplate(models.Model):
    """A district's (or, with no district, the platform's) replacement for a built-in message.

    Each part is Django template syntax; a blank part falls back to the next level (platform row, then the
    built-in file). `html_body` is the message body only: the header with the district's name and logo and
    the footer are put around it for every message.
    """

    district = models.ForeignKey(
        District, on_delete=models.CASCADE, null=True, blank=True, related_name="mail_templates"
    )
    key = models.SlugField(max_length=60)
    subject = models.CharField(max_length=255, blank=True)
    text_body = models.TextField(blank=True)
    html_body = models.TextField(blank=True)
    # The render cache is keyed by this: an edit is picked up by the next message, in every process.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["district", "key"], name="mail_template_unique"),
            # NULLs are distinct in a unique constraint: the platform default needs its own.
            models.UniqueConstraint(
                fields=["key"], condition=Q(district__isnull=True), name="mail_template_platform_unique"
            ),
        ]
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key} ({self.district.slug if self.district_id else 'platform default'})"

    def clean(self) -> None:
        from schoolgate.mail.render import compile_part  # the model is imported before render is

        errors = {}
        for field in ("subject", "text_body", "html_body"):
            source = getattr(self, field)
            if _UNSAFE_TAGS.search(source):
                errors[field] = "load, include, extends, debug and ssi are not allowed in mail templates"
                continue
            try:
                compile_part(source)
            except Exception as exc:  # TemplateSyntaxError and the errors tags raise while compiling
                errors[field] = f"template error: {exc}"
        if errors:
            raise ValidationError(errors)


class MailBranding(models.Model):
    """How a district's messages look and whom they come from: sender name, Reply-To and logo."""

    district = models.OneToOneField(District, on_delete=models.CASCADE, related_name="mail_branding")
    sender_name = models.CharField(max_length=200, blank=True, help_text="blank: the district's name")
    reply_to = models.EmailField(max_length=320, blank=True)
    # Small PNG or JPEG kept in the row: every message carries it inline (cid:), and there is no media
    # folder to back up or share between workers.
    logo = models.BinaryField(null=True, blank=True)
    logo_content_type = models.CharField(max_length=20, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"mail branding of {self.district.slug}"

    def save(self, *args: object, **kwargs: object) -> None:
        # The content type is derived, never typed: the renderer decides from it whether there is a logo
        # without loading the image itself.
        self.logo_content_type = (logo_content_type(bytes(self.logo)) or "") if self.logo else ""
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.logo:
            data = bytes(self.logo)
            if len(data) > LOGO_MAX_BYTES:
                raise ValidationError(
                    {"logo": f"the logo is {len(data):,} bytes; at most {LOGO_MAX_BYTES:,}"}
                )
            content_type = logo_content_type(data)
            if content_type is None:
                raise ValidationError({"logo": "the logo must be a PNG or JPEG image"})
            self.logo_content_type = content_type
        else:
            self.logo, self.logo_content_type = None, ""


class OutboxStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    RETRYING = "retrying", "Retrying after a temporary failure"
    FAILED = "failed", "Failed"


PENDING_STATUSES = (OutboxStatus.QUEUED, OutboxStatus.RETRYING)


class OutboxMessage(models.Model):
    """One rendered message to one address, and what happened to it."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="outbox", db_index=False)
    key = models.SlugField(max_length=60)
    to_address = models.CharField(max_length=320)
    subject = models.CharField(max_length=255)
    text_body = models.TextField()
    html_body = models.TextField()
    person = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    # No FK: the mail app sits below accounts (accounts imports mail, never the reverse).
    account_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When a worker may next take the message. A worker that claims it moves this a lease ahead, so that
    # another worker skips it while it is being sent.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due_idx"),
            models.Index(fields=["district", "-created_at"], name="outbox_recent_idx"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.key} to {self.to_address} ({self.status})"
