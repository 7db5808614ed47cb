"""Accounts (one login record per person) and welcome invitations.

The lifecycle fields (`state`, `reason`, credentials) are changed only by the functions in
`schoolgate.accounts.lifecycle`; the constraints below make the database refuse the combinations those
functions must never produce, whatever path a future change takes.
"""

from django.db import models
from django.db.models import Q

from schoolgate.core.models import District
from schoolgate.people.models import Person


class AccountState(models.TextChoices):
    READY_TO_PROVISION = "ready_to_provision", "Ready to provision"
    INVITED = "invited", "Invited"
    ACTIVE = "active", "Active"
    READY_TO_REVOKE = "ready_to_revoke", "Ready to revoke"
    REVOKED = "revoked", "Revoked"


class RevokeReason(models.TextChoices):
    NO_STUDENTS = "no_students", "No eligible linked student left"
    SUPERSEDED = "superseded", "A newer record for the same person took over"
    NOT_LINKED = "not_linked", "Not linked to any student"
    FLAG_REMOVED = "flag_removed", "Portal access turned off"
    LEFT_SIS = "left_sis", "Gone from the SIS"
    DUPLICATE_USERNAME = "duplicate_username", "Username clashes with another account"


# States in which the person holds credentials (a password, or a live welcome link).
CREDENTIAL_STATES = (AccountState.INVITED, AccountState.ACTIVE, AccountState.READY_TO_REVOKE)


class Account(models.Model):
    """A person's login and where it stands in the lifecycle."""

    # district_id without a database FK on this high-volume table: the person it hangs off already belongs to
    # the district (and is constrained); a million deferred per-row FK checks at commit dominated large syncs.
    district = models.ForeignKey(
        District, on_delete=models.CASCADE, related_name="accounts", db_index=False, db_constraint=False
    )
    person = models.OneToOneField(Person, on_delete=models.CASCADE, related_name="account")
    state = models.CharField(max_length=20, choices=AccountState.choices)
    reason = models.CharField(max_length=20, choices=RevokeReason.choices, blank=True)
    successor = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, related_name="+", db_index=False
    )
    # NULL, not "", when there is no username: the unique constraint must ignore accounts without one.
    username = models.CharField(max_length=150, null=True)  # noqa: DJ001
    # NFKC + casefold of the username: the key that must be unique in the district, across schools and kinds.
    username_key = models.CharField(max_length=150, null=True)  # noqa: DJ001
    password_hash = models.CharField(max_length=255, blank=True)
    must_change_password = models.BooleanField(default=False)
    # Bumped whenever credentials are removed or replaced; a session or token minted under an older value
    # is dead at once.
    credentials_version = models.PositiveIntegerField(default=0)
    # Repeated failed logins lock the account until this time (set by the portal's login, cleared by unlock).
    failed_logins = models.PositiveIntegerField(db_default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    state_changed_at = models.DateTimeField()
    invited_at = models.DateTimeField(null=True)
    activated_at = models.DateTimeField(null=True)
    revoked_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["district", "username_key"],
                condition=Q(username_key__isnull=False),
                name="account_username_unique",
            ),
            models.CheckConstraint(
                condition=Q(username__isnull=True, username_key__isnull=True)
                | Q(username__isnull=False, username_key__isnull=False),
                name="account_username_key_set",
            ),
            models.CheckConstraint(
                condition=(Q(state=AccountState.READY_TO_REVOKE) & ~Q(reason=""))
                | Q(state=AccountState.REVOKED)
                | (
                    Q(state__in=[AccountState.READY_TO_PROVISION, AccountState.INVITED, AccountState.ACTIVE])
                    & Q(reason="")
                ),
                name="account_reason_matches_state",
            ),
            models.CheckConstraint(
                condition=~Q(state=AccountState.REVOKED) | Q(username__isnull=True, password_hash=""),
                name="account_revoked_has_no_credentials",
            ),
            models.CheckConstraint(condition=Q(state__in=AccountState.values), name="account_state_valid"),
        ]
        indexes = [
            models.Index(fields=["district", "state", "reason"], name="account_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.person.sis_code}: {self.state}"


class Invitation(models.Model):
    """A welcome link. The link carries a signed token naming this row; using it, resending or revoking the
    account closes it, so a link works once and only while it is the newest."""

    # district_id without a database FK on this high-volume table: the person it hangs off already belongs to
    # the district (and is constrained); a million deferred per-row FK checks at commit dominated large syncs.
    district = models.ForeignKey(
        District, on_delete=models.CASCADE, related_name="invitations", db_index=False, db_constraint=False
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="invitations", db_index=False)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True)
    withdrawn_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["account", "used_at", "withdrawn_at"], name="invitation_open_idx")]

    def __str__(self) -> str:
        return f"invitation {self.pk} for account {self.account_id}"
