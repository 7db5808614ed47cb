"""Jobs an admin starts and watches (account generation, large bulk actions), their items, and notifications.

A job's work is split into items, one per person, each done in its own transaction and marked done: a job
killed mid-run resumes from the first item not done, and re-running never repeats an item. Progress is the
count of items done; cancelling stops at the next item.
"""

from django.db import models

from schoolgate.core.models import District
from schoolgate.people.models import Person


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    CANCELLED = "cancelled", "Cancelled"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Job(models.Model):
    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=30)
    title = models.CharField(max_length=200)
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    report_pdf = models.CharField(max_length=500, blank=True)
    report_csv = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["district", "-created_at"], name="job_recent_idx")]

    def __str__(self) -> str:
        return f"job {self.pk} {self.kind} ({self.status})"


class ItemStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CREATED = "created", "Created"
    EXISTS = "exists", "Already existed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (cancelled)"


class JobItem(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="items")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+", db_index=False)
    position = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    username = models.CharField(max_length=150, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    # A generated password, kept only until the job's report is written, then erased.
    handout = models.CharField(max_length=100, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "person"], name="job_item_person_unique"),
            models.UniqueConstraint(fields=["job", "position"], name="job_item_position_unique"),
        ]
        indexes = [models.Index(fields=["job", "status", "position"], name="job_item_todo_idx")]

    def __str__(self) -> str:
        return f"{self.job_id}#{self.position} {self.status}"


class Notification(models.Model):
    """A message for an admin's bell: unread until they open it."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="notifications")
    recipient = models.CharField(max_length=150)  # the actor who started the job (admin accounts: issue 6)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True)
    job = models.ForeignKey(
        Job, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_unread_idx")]

    def __str__(self) -> str:
        return self.title
