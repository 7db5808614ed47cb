"""Districts (tenants), their schools, and the audit log.

Every row elsewhere in Schoolgate belongs to exactly one district; the audit log records which district each
event touched so that it, too, can be scoped.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


def _default_guard_share() -> float:
    return settings.SCHOOLGATE_REVOKE_GUARD_SHARE


class District(models.Model):
    """A school district (a board, a member account): the tenant."""

    slug = models.SlugField(max_length=63, unique=True)
    name = models.CharField(max_length=200)
    # A sync that would move more than this share of the district's invited and active accounts into
    # ready_to_revoke is held for confirmation: a mass revocation is almost always a rule mistake.
    revoke_guard_share = models.FloatField(
        default=_default_guard_share, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    # Runs revoking this many accounts or fewer are never held, whatever the share (0 = always apply the share).
    revoke_guard_minimum = models.PositiveIntegerField(default=0)
    # Carry a login over to its successor record on its own when the identity match is strong (a contact-code
    # change); weak matches are only ever suggested.
    auto_transfer_strong_matches = models.BooleanField(default=False)
    username_source = models.CharField(
        max_length=10,
        choices=[
            ("chosen", "Chosen by the person at activation"),
            ("sis", "The SIS username"),
            ("email", "The person's email address"),
        ],
        default="chosen",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class School(models.Model):
    """An organisation from the SIS: usually a school, sometimes the district office or a department."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="schools", db_index=False)
    sis_code = models.CharField(max_length=255)
    name = models.CharField(max_length=255, blank=True)
    org_type = models.CharField(max_length=40, blank=True)
    parent_code = models.CharField(max_length=255, blank=True)
    in_sis = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["district", "sis_code"], name="school_code_unique")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name or self.sis_code


class AuditEvent(models.Model):
    """One fact about a change: who did what to which target, with the state before and after.

    Written by domain functions inside the same transaction as the change (never by signals), and skipped
    for no-op changes. Bulk paths insert the same rows set-based.
    """

    # district_id without a database FK on this high-volume table: the person it hangs off already belongs to
    # the district (and is constrained); a million deferred per-row FK checks at commit dominated large syncs.
    district = models.ForeignKey(
        District,
        on_delete=models.CASCADE,
        related_name="audit_events",
        null=True,
        db_index=False,
        db_constraint=False,
    )
    at = models.DateTimeField(db_index=True)
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=60)
    target_type = models.CharField(max_length=40)
    target_id = models.BigIntegerField(null=True)
    target_label = models.CharField(max_length=255, blank=True)
    # The sync run or job that caused the change, when there is one.
    run_id = models.BigIntegerField(null=True)
    before = models.JSONField(null=True)
    after = models.JSONField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["district", "target_type", "target_id"], name="audit_target_idx"),
            models.Index(fields=["district", "action", "at"], name="audit_action_idx"),
        ]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target_label}"
