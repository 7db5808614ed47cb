"""Sync runs: one row per attempt to apply a SIS file set, with its report.

Dry runs write nothing, not even a run. A rejected run records its errors and changes nothing else. A held
run (the mass-revocation guard tripped) stores the diff it would have applied, so an admin can see who would
lose access and why before confirming.
"""

from django.db import models

from schoolgate.core.models import District


class SyncStatus(models.TextChoices):
    RUNNING = "running", "Running"
    APPLIED = "applied", "Applied"
    HELD = "held", "Held for confirmation"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"
    DISCARDED = "discarded", "Discarded"
    CONFIRMED = "confirmed", "Confirmed by a later run"


class SyncRun(models.Model):
    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="sync_runs", db_index=False)
    status = models.CharField(max_length=12, choices=SyncStatus.choices, default=SyncStatus.RUNNING)
    format = models.CharField(max_length=20, blank=True)
    source = models.CharField(max_length=1000)
    tolerant = models.BooleanField(default=False)
    confirmed = models.BooleanField(default=False)
    actor = models.CharField(max_length=150)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)
    counts = models.JSONField(default=dict)
    errors = models.JSONField(default=list)
    warnings = models.JSONField(default=list)
    # For held runs: the account moves that were not applied ({"person", "kind", "from", "to", "reason"}).
    diff = models.JSONField(default=list)
    # Seconds spent in each step of the run (engine.STEPS), for finding where a slow sync spends its time.
    durations = models.JSONField(default=dict)
    confirmed_by = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["district", "-started_at"], name="syncrun_recent_idx")]
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"


class AppliedSet(models.Model):
    """The bulk file set a district's SIS data mirrors now, so that the same set sent again is recognised
    without reading it (`sync/resent.py`). Written by each applied run in its own transaction, with the
    district locked; a run that applied no bulk set of people removes it."""

    district = models.OneToOneField(District, on_delete=models.CASCADE, primary_key=True, related_name="+")
    # SHA-256 of the set's file names and contents (a CSV file's rows in any order), with the options and code
    # versions that read it; and of the exact bytes, kept only when the run's warnings name lines of its files.
    content_key = models.CharField(max_length=64)
    exact_key = models.CharField(max_length=64, blank=True, default="")
    run = models.ForeignKey(SyncRun, on_delete=models.SET_NULL, null=True, related_name="+")
    # Counts and sums over the people's stored fingerprints when the set was applied (resent.read_people).
    people_check = models.CharField(max_length=200)
    people_in_sis = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.district_id}: {self.content_key[:12]} (run {self.run_id})"
