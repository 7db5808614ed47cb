"""People, the links between students and their contacts, school memberships, and eligibility rules.

All of it is mirrored from the SIS by the sync engine (set-based SQL; see `schoolgate.sync`). Rows are never
deleted when they leave the SIS: `in_sis` turns false, so history and the reasons for revocation survive.
"""

from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper

from schoolgate.core.models import District, School


class PersonKind(models.TextChoices):
    STUDENT = "student", "Student"
    CONTACT = "contact", "Contact"
    STAFF = "staff", "Staff"


class Person(models.Model):
    """A student, contact (guardian) or staff member, keyed by its SIS code, unique per district."""

    # No one-column FK indexes where a composite index starting with the same column exists: at millions of
    # rows each extra index is a write per row for every sync.
    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="people", db_index=False)
    sis_code = models.CharField(max_length=255)
    kind = models.CharField(max_length=10, choices=PersonKind.choices)
    # Every SIS role held, sorted and comma-joined ("guardian,teacher"): one human can be staff and parent.
    roles = models.CharField(max_length=255, blank=True)
    given_name = models.CharField(max_length=255, blank=True)
    family_name = models.CharField(max_length=255, blank=True)
    middle_name = models.CharField(max_length=255, blank=True)
    preferred_given_name = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=320, blank=True)
    phone = models.CharField(max_length=64, blank=True)
    sms = models.CharField(max_length=64, blank=True)
    sis_username = models.CharField(max_length=255, blank=True)
    identifier = models.CharField(max_length=255, blank=True)
    grades = models.CharField(max_length=100, blank=True)
    enabled = models.BooleanField(default=True)
    in_sis = models.BooleanField(default=True)
    # The eligibility rule that decided this person's own login (students, staff); blank when none matched.
    # Database defaults (not just Python ones): the sync engine inserts people set-based, in SQL.
    login_rule = models.CharField(max_length=100, blank=True, db_default="")
    login_allowed = models.BooleanField(db_default=False)
    # Set when an admin merged this record into another (the same human entered twice): the SIS code stays as
    # an alias of that person, so the next sync maps this record's links onto it instead of undoing the merge.
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_records", db_index=False
    )
    # A permanent delivery failure to `email` (bounce, invalid address), recorded by the mail worker.
    email_bounced_at = models.DateTimeField(null=True, blank=True)
    email_bounce_reason = models.CharField(max_length=255, blank=True, db_default="")
    # Fingerprint of this person's last bulk SIS row, agent list and memberships: a bulk sync stages only the
    # people whose fingerprint changed. NULL means "unknown" (set by deltas and admin edits): always restaged.
    sis_digest = models.BigIntegerField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["district", "sis_code"], name="person_code_unique")]
        indexes = [
            models.Index(fields=["district", "kind"], name="person_kind_idx"),
            # The console's account list: one index gives both its case-insensitive name order (keyset pages)
            # and search by the start of a family name (a range of the same index). (On a PostgreSQL database
            # whose collation is not C, prefix searches need text_pattern_ops on UPPER(family_name).)
            models.Index(
                "district", Upper("family_name"), Upper("given_name"), "sis_code", name="person_name_idx"
            ),
            models.Index("district", Upper("email"), name="person_email_upper_idx"),
            # Merged records are few: a partial index finds them (each sync's merged groups) without reading
            # every person, and costs nothing for the rest.
            models.Index(
                fields=["merged_into"], name="person_merged_idx", condition=Q(merged_into__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.sis_code})"

    @property
    def display_name(self) -> str:
        return display_name(self.preferred_given_name, self.given_name, self.family_name, self.sis_code)


def display_name(preferred_given_name: str, given_name: str, family_name: str, sis_code: str) -> str:
    """How a person is named on screen: preferred (or given) name and family name, else their SIS code."""
    given = preferred_given_name or given_name
    return " ".join(part for part in (given, family_name) if part) or sis_code


class Link(models.Model):
    """A student ↔ contact relationship, with the portal flag that lets the contact see the student.

    `declared_by_student` / `declared_by_contact` record which end's SIS row names the other (OneRoster
    agent lists run in either direction); the link is in the SIS while either end declares it.
    """

    # district_id without a database FK on this high-volume table: the person it hangs off already belongs to
    # the district (and is constrained); a million deferred per-row FK checks at commit dominated large syncs.
    district = models.ForeignKey(
        District, on_delete=models.CASCADE, related_name="links", db_index=False, db_constraint=False
    )
    student = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="contact_links", db_index=False
    )
    contact = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="student_links", db_index=False
    )
    relationship = models.CharField(max_length=40, blank=True)
    # The relationship as the SIS states it (SDS relationshipRole), blank when it states none; then
    # `relationship` is inferred from the contact's roles and follows them when they change.
    sis_relationship = models.CharField(max_length=40, blank=True, db_default="")
    priority = models.PositiveSmallIntegerField(null=True)
    lives_with = models.BooleanField(null=True)
    custody = models.BooleanField(null=True)
    declared_by_student = models.BooleanField(default=False)
    declared_by_contact = models.BooleanField(default=False)
    in_sis = models.BooleanField(default=True)
    # What the district's eligibility rules decide (`flag_rule` names the deciding rule) …
    rule_flag = models.BooleanField(db_default=False)
    rule_permissions = models.PositiveSmallIntegerField(db_default=0)
    flag_rule = models.CharField(max_length=100, blank=True)
    # … and what is in force: the rules' decision unless an admin override says otherwise.
    portal_flag = models.BooleanField(default=False)
    permissions = models.PositiveSmallIntegerField(db_default=0)  # bits of SECTIONS

    class Meta:
        constraints = [
            # Also the index for "links of this student" (district, student …).
            models.UniqueConstraint(fields=["district", "student", "contact"], name="link_pair_unique"),
            models.CheckConstraint(condition=~models.Q(student=models.F("contact")), name="link_not_self"),
        ]
        indexes = [models.Index(fields=["district", "contact"], name="link_contact_idx")]

    def __str__(self) -> str:
        return f"{self.contact_id} → {self.student_id} ({self.relationship})"


class Membership(models.Model):
    """A person's role at a school (or other org) according to the SIS."""

    # district_id without a database FK on this high-volume table: the person it hangs off already belongs to
    # the district (and is constrained); a million deferred per-row FK checks at commit dominated large syncs.
    district = models.ForeignKey(
        District, on_delete=models.CASCADE, related_name="memberships", db_index=False, db_constraint=False
    )
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="memberships", db_index=False)
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="memberships", db_index=False)
    role = models.CharField(max_length=40)
    is_primary = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "school", "role"], name="membership_unique"),
        ]
        indexes = [models.Index(fields=["district", "school"], name="membership_school_idx")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.role} at {self.school_id}"


class RuleAudience(models.TextChoices):
    CONTACT = "contact", "Contacts (per student link)"
    STUDENT = "student", "Students"
    STAFF = "staff", "Staff"


# The parts of a student's record a contact can be allowed to see, each one bit of Link.permissions.
SECTIONS = ["reports", "assessments", "timetable", "attendance", "courses"]
SECTION_BITS = {name: 1 << i for i, name in enumerate(SECTIONS)}
ALL_SECTIONS = sum(SECTION_BITS.values())


def sections_of(mask: int) -> list[str]:
    """The section names a permission mask grants."""
    return [name for name in SECTIONS if mask & SECTION_BITS[name]]


class RuleEffect(models.TextChoices):
    ALLOW = "allow", "Allow"
    DENY = "deny", "Deny"


class EligibilityRule(models.Model):
    """One clause of a district's eligibility rules, stored as data.

    Rules of an audience are tried in `position` order; the first whose conditions all hold decides (allow or
    deny) and is remembered by name on the link or person, so "why can't this parent see this child" can be
    answered with the clause. No matching rule means no access. Conditions are a JSON object of whitelisted
    fields (see `schoolgate.people.eligibility.CONDITION_FIELDS`).
    """

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="eligibility_rules")
    audience = models.CharField(max_length=10, choices=RuleAudience.choices)
    position = models.PositiveIntegerField()
    name = models.SlugField(max_length=100)
    effect = models.CharField(max_length=5, choices=RuleEffect.choices)
    conditions = models.JSONField(default=dict, blank=True)
    # For an allowing contact rule: the sections the contact may see (all, when not set).
    sections = models.JSONField(null=True, blank=True)
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["district", "audience", "position"], name="rule_position_unique"),
            models.UniqueConstraint(fields=["district", "name"], name="rule_name_unique"),
        ]
        ordering = ["audience", "position"]

    def __str__(self) -> str:
        return f"{self.audience}#{self.position} {self.name} ({self.effect})"


class OverrideField(models.TextChoices):
    PORTAL = "portal", "Portal access"
    REPORTS = "reports", "Reports"
    ASSESSMENTS = "assessments", "Assessments"
    TIMETABLE = "timetable", "Timetable"
    ATTENDANCE = "attendance", "Attendance"
    COURSES = "courses", "Courses"


class Override(models.Model):
    """An admin's decision about one link that the SIS sync must not overwrite.

    Forces the portal flag or one section on or off, with a reason and an optional expiry. Removing it (or its
    expiry) hands the link back to the rules. Rows are never deleted: `removed_at` keeps the history.
    """

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="overrides", db_index=False)
    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="overrides")
    field = models.CharField(max_length=12, choices=OverrideField.choices)
    value = models.BooleanField()
    reason = models.CharField(max_length=500)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField()
    removed_by = models.CharField(max_length=150, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One override in force per link and field: a new decision replaces the previous one.
            models.UniqueConstraint(
                fields=["link", "field"],
                condition=models.Q(removed_at__isnull=True),
                name="override_one_active",
            ),
        ]
        indexes = [models.Index(fields=["district", "removed_at"], name="override_district_idx")]

    def __str__(self) -> str:
        return f"{self.field}={'on' if self.value else 'off'} on link {self.link_id}"


class MatchStrength(models.TextChoices):
    STRONG = "strong", "Strong"
    WEAK = "weak", "Weak"


class IdentityMatch(models.Model):
    """Evidence that a newer person record is the same human as an older one (a successor).

    Strong matches mark the old account `superseded` and may transfer the login automatically (district
    policy); weak ones are suggestions an admin confirms with `schoolgate transfer`.
    """

    district = models.ForeignKey(
        District, on_delete=models.CASCADE, related_name="identity_matches", db_index=False
    )
    old = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="successor_matches")
    new = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="predecessor_matches", db_index=False
    )
    score = models.FloatField()
    reasons = models.JSONField(default=list)
    strength = models.CharField(max_length=6, choices=MatchStrength.choices)
    found_at = models.DateTimeField()
    transferred_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["old", "new"], name="identity_match_pair")]

    def __str__(self) -> str:
        return f"{self.old_id} → {self.new_id} ({self.strength} {self.score:.2f})"
