"""Admin memberships, service roles, Primary change requests, admin invitations, API tokens and sessions.

Exactly one Primary per district: a unique constraint on the district's Primary membership makes a second
one impossible, whatever the path; changing the Primary swaps both memberships in one transaction, and only
after a platform operator validated the request.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from schoolgate.core.models import District


class AdminMembership(models.Model):
    """An admin's role in one district (one login may hold memberships in several districts)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="admin_memberships")
    role = models.CharField(max_length=60)  # a built-in role key, or "service:<key>"
    school_codes = models.JSONField(default=list, blank=True)  # school admins: the schools they may act on
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "district"], name="admin_membership_unique"),
            models.UniqueConstraint(
                fields=["district"], condition=Q(role="primary"), name="one_primary_per_district"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.role} of {self.district.slug}"


class ServiceRole(models.Model):
    """A service-specific permission level defined as data (e.g. one integration's settings and logs)."""

    district = models.ForeignKey(
        District, on_delete=models.CASCADE, null=True, blank=True, related_name="service_roles"
    )
    key = models.SlugField(max_length=50)
    name = models.CharField(max_length=100)
    permissions = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["district", "key"], name="service_role_unique")]

    def __str__(self) -> str:
        return self.name


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Pending validation"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class PrimaryChangeRequest(models.Model):
    """A request to change a district's Primary admin; nothing changes until a platform operator decides."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="primary_requests")
    requested_by = models.CharField(max_length=150)
    new_primary_email = models.EmailField()
    reason = models.TextField()
    status = models.CharField(max_length=10, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.district.slug}: → {self.new_primary_email} ({self.status})"


class AdminInvitation(models.Model):
    """An invitation to administer a district: the link lets the person set a password and enrol MFA."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="admin_invitations")
    email = models.EmailField()
    role = models.CharField(max_length=60)
    school_codes = models.JSONField(default=list, blank=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.email} as {self.role} of {self.district.slug}"


class ApiToken(models.Model):
    """A token for the REST API or SCIM, scoped to one district and one permission level.

    Only a SHA-256 of the token is stored; the token itself is shown once, when created. Revoking it (or
    removing its admin) makes it fail at once.
    """

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    level = models.CharField(max_length=60)  # a role key: the token's permissions are that role's
    scope = models.CharField(max_length=10, choices=[("api", "REST API"), ("scim", "SCIM")])
    prefix = models.CharField(max_length=12)  # shown in listings to tell tokens apart
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.scope}, {self.level})"


class AdminSession(models.Model):
    """A console login session of an admin, so that removing the admin can end it at once.

    Django's session store cannot be searched by user; remembering each admin's session keys at login lets
    `delegation.remove_admin` delete exactly those sessions, whatever the session backend.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="admin_sessions"
    )
    session_key = models.CharField(max_length=40, unique=True)
    started_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"session of {self.user}"
