"""Outbound integrations: SCIM push targets with their per-account push state, and webhook endpoints with
their deliveries.

Both outboxes are written in the transaction that changed the accounts (see `outbox.record_changes`), so a
rolled-back change pushes nothing and a committed one is never lost; the worker (`tasks.run_integrations`)
delivers them afterwards and records each outcome on the row, where the CLI and the console show it.

`account_id` columns carry no foreign key on purpose: a withdrawn account is deleted in the transaction
that announces it, and its push row must survive to switch the downstream user off (it holds the
downstream id).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from schoolgate.core.models import District


class PushStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # the account changed since it was last pushed (or the push is retrying)
    DONE = "done", "Pushed"  # downstream holds the account's current state
    FAILED = "failed", "Failed"  # gave up after the last attempt; the next change (or `retry`) resets it


class PushPriority(models.IntegerChoices):
    # Lower goes first: access removed here must reach downstream within seconds, whatever waits behind it.
    REVOKE = 0, "Revocation"
    UPDATE = 1, "Provisioning or update"


class ScimTarget(models.Model):
    """A downstream SCIM 2.0 service the district's accounts are pushed to."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="scim_targets")
    name = models.CharField(max_length=100)
    base_url = models.CharField(max_length=500)  # ends before /Users, e.g. https://app.example/scim/v2
    token_encrypted = models.TextField()  # Fernet, see crypto.py; never shown back
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["district", "name"], name="scim_target_name_unique")]
        indexes = [models.Index(fields=["district", "enabled"], name="scim_target_enabled_idx")]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.base_url})"


class ScimPush(models.Model):
    """One account's push state towards one target: a single row per (target, account), so repeated
    changes coalesce and the worker always sends the account's current state."""

    district = models.ForeignKey(
        District, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    target = models.ForeignKey(ScimTarget, on_delete=models.CASCADE, related_name="pushes", db_index=False)
    account_id = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=PushStatus.choices, default=PushStatus.PENDING)
    priority = models.SmallIntegerField(choices=PushPriority.choices, default=PushPriority.UPDATE)
    # Bumped by every change: a push that finishes finds out whether the account changed meanwhile.
    version = models.BigIntegerField(default=1)
    dirty_since = models.DateTimeField(null=True, blank=True)  # first unpushed change (lag = now - this)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True, default="")
    downstream_id = models.CharField(max_length=255, blank=True, default="")
    last_pushed_at = models.DateTimeField(null=True, blank=True)
    last_pushed_hash = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["target", "account_id"], name="scim_push_target_account_unique")
        ]
        indexes = [
            # The worker's claim: due pending rows, revocations first.
            models.Index(
                fields=["priority", "next_attempt_at"],
                condition=Q(status="pending"),
                name="scim_push_due_idx",
            ),
            models.Index(fields=["target", "status"], name="scim_push_status_idx"),
        ]

    def __str__(self) -> str:
        return f"account {self.account_id} → target {self.target_id}: {self.status}"


class WebhookEndpoint(models.Model):
    """A URL that receives the district's events, signed with its own secret."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="webhook_endpoints")
    name = models.CharField(max_length=100)
    url = models.CharField(max_length=500)
    secret_encrypted = models.TextField()  # Fernet, see crypto.py; shown once, when the endpoint is added
    # ",account.revoked,sync.finished," (commas around each, so SQL can match a type with LIKE), or ",*,".
    event_types = models.CharField(max_length=500)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["district", "name"], name="webhook_endpoint_name_unique")
        ]
        indexes = [models.Index(fields=["district", "enabled"], name="webhook_enabled_idx")]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"

    @property
    def event_list(self) -> list[str]:
        return [t for t in self.event_types.split(",") if t]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event for one endpoint. Events are history, so unlike pushes they do not coalesce; the body is
    rebuilt from these columns on every attempt, identically, so a retry carries the same event id."""

    district = models.ForeignKey(
        District, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    event_type = models.CharField(max_length=40)
    occurred_at = models.DateTimeField()
    account_id = models.BigIntegerField(null=True, blank=True)
    sis_code = models.CharField(max_length=255, blank=True, default="")
    kind = models.CharField(max_length=10, blank=True, default="")
    state = models.CharField(max_length=20, blank=True, default="")
    reason = models.CharField(max_length=20, blank=True, default="")
    previous_state = models.CharField(max_length=20, blank=True, default="")
    data = models.JSONField(null=True, blank=True)  # sync events: the run's id, status and counts
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True, default="")
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhook_due_idx"),
            models.Index(fields=["endpoint", "status"], name="webhook_status_idx"),
        ]

    def __str__(self) -> str:
        return f"evt_{self.pk} {self.event_type}: {self.status}"


class AccountMark(models.Model):
    """The state of each account as webhooks last announced it, so a change can be named: a new state is
    `account.<state event>`, the same state is `account.changed`, a vanished account `account.deleted`.
    Kept only for districts with webhook endpoints."""

    district = models.ForeignKey(
        District, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    account_id = models.BigIntegerField()
    state = models.CharField(max_length=20)
    sis_code = models.CharField(max_length=255)
    kind = models.CharField(max_length=10)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["district", "account_id"], name="account_mark_unique")]

    def __str__(self) -> str:
        return f"account {self.account_id}: {self.state}"
