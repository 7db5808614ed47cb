"""Accounts (one login record per person) and welcome invitations.

The lifecycle fields (`state`, `reason`, credentials) are changed only by the functions in
`schoolgate.accounts.lifecycle`; the constraints below make the database refuse the combinations those
functions must never produce, whatever path a future change takes.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

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
    # The group whose generation job gave this account its username and password policy, if any.
    group = models.ForeignKey(
        "AccountGroup", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
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

    @property
    def locked_now(self) -> bool:
        """The portal login is paused after repeated failures (authentication.py), and the pause still holds."""
        return self.locked_until is not None and self.locked_until > timezone.now()


class LinkPurpose(models.TextChoices):
    WELCOME = "welcome", "Welcome (set a password)"
    RESET = "reset", "Password reset"


class Invitation(models.Model):
    """A welcome or password-reset link. The link carries a signed token naming this row; using it, a newer
    link of the same purpose, or revoking the account closes it, so a link works once and only while it is
    the newest."""

    purpose = models.CharField(max_length=10, choices=LinkPurpose.choices, db_default=LinkPurpose.WELCOME)

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


class UsernameSource(models.TextChoices):
    CHOSEN = "chosen", "Chosen by the person at activation"
    SIS = "sis", "The SIS username"
    SCHEME = "scheme", "Generated from the naming scheme"


class PasswordMode(models.TextChoices):
    ACTIVATION = "activation", "Set by the person from the welcome e-mail"
    GENERATED = "generated", "Generated, handed out with the job report"


class AccountGroup(models.Model):
    """How accounts of one audience (optionally narrowed to schools or grades) are generated: where usernames
    come from, the naming scheme, and the password policy."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="account_groups")
    name = models.CharField(max_length=100)
    audience = models.CharField(
        max_length=10, choices=[("contact", "Guardians"), ("student", "Students"), ("staff", "Staff")]
    )
    school_codes = models.JSONField(default=list, blank=True)  # empty: every school
    grades = models.JSONField(default=list, blank=True)  # empty: every grade (students only)
    username_source = models.CharField(
        max_length=10, choices=UsernameSource.choices, default=UsernameSource.SCHEME
    )
    naming_scheme = models.CharField(max_length=100, default="{first}.{last}")
    username_max_length = models.PositiveSmallIntegerField(default=30)
    password_mode = models.CharField(
        max_length=10, choices=PasswordMode.choices, default=PasswordMode.ACTIVATION
    )
    must_change_password = models.BooleanField(default=True)
    min_password_length = models.PositiveSmallIntegerField(default=10)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["district", "name"], name="account_group_name_unique")]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.audience})"


class UsernameStem(models.Model):
    """The next free counter for a username stem ("jsmith" → jsmith, jsmith2, …), so allocating usernames costs
    time per new account, not per existing clash."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="+", db_index=False)
    stem = models.CharField(max_length=150)  # as a username key (NFKC + casefold)
    next_counter = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["district", "stem"], name="username_stem_unique")]

    def __str__(self) -> str:
        return f"{self.stem} → {self.next_counter}"
