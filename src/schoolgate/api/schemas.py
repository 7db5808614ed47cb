"""What the API accepts and returns: one schema per shape, named as a school admin would name the thing.

Machine names (states, reasons, kinds, sections) are the domain contract's (DOMAIN.md).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict

from schoolgate.api.pagination import PageInfo

State = Literal["ready_to_provision", "invited", "active", "ready_to_revoke", "revoked"]
Reason = Literal["no_students", "superseded", "not_linked", "flag_removed", "left_sis", "duplicate_username"]
Kind = Literal["student", "contact", "staff"]
Section = Literal["portal", "reports", "assessments", "timetable", "attendance", "courses"]
Code = Field(..., min_length=1, max_length=255, description="a person's SIS code (sourcedId)")


class Input(Schema):
    """A request body: a field the API does not know is refused (422 naming it), never silently ignored — a
    misspelt option must not look accepted."""

    model_config = ConfigDict(extra="forbid")


# Districts and schools


class DistrictOut(Schema):
    slug: str
    name: str
    guard_share: float = Field(
        description="share of invited+active accounts one sync may flag before it is held"
    )
    guard_minimum: int
    auto_transfer: bool
    username_source: str
    accounts: dict[str, int] = Field(description="accounts by state")


class SchoolOut(Schema):
    code: str
    name: str
    type: str
    parent: str | None
    in_sis: bool


# People and links


class PersonRow(Schema):
    code: str
    kind: Kind
    name: str
    email: str
    enabled: bool
    in_sis: bool
    account_state: State | None


class PeoplePage(Schema):
    items: list[PersonRow]
    page: PageInfo


class PersonFacts(Schema):
    code: str
    kind: Kind
    roles: list[str]
    name: str
    email: str
    phone: str
    enabled: bool
    in_sis: bool
    merged_into: str | None
    login_rule: str


class AccountFacts(Schema):
    state: State
    reason: Reason | None
    username: str | None
    successor: str | None
    locked: bool


class OverrideOut(Schema):
    id: int
    field: str
    value: bool
    reason: str
    expires_at: str | None


class PersonLink(Schema):
    student: str
    contact: str
    relationship: str
    in_sis: bool
    portal_flag: bool = Field(description="the decision in force: may the contact see the student")
    rule_flag: bool = Field(description="what the eligibility rules decided, before overrides")
    flag_rule: str = Field(description="the rule that decided the flag")
    sections: list[str] = Field(description="sections the contact may see for this student, in force")
    rule_sections: list[str]
    overrides: list[OverrideOut]


class PersonOut(Schema):
    person: PersonFacts
    account: AccountFacts | None
    links: list[PersonLink]
    visible_students: list[str] = Field(description="students this person's login may see right now")


class LinkRow(Schema):
    student: str
    contact: str
    relationship: str
    in_sis: bool
    portal_flag: bool
    rule_flag: bool
    flag_rule: str
    sections: list[str]


class LinksPage(Schema):
    items: list[LinkRow]
    page: PageInfo


class OverrideIn(Input):
    contact: str = Code
    student: str = Code
    field: Section
    value: bool
    reason: str = Field(..., min_length=1, max_length=500)
    until: date | None = Field(None, description="last day the override is in force (YYYY-MM-DD)")


class OverrideSet(Schema):
    id: int
    contact: str
    student: str
    field: str
    value: bool
    reason: str
    expires_at: datetime | None


# Accounts


class AccountRow(Schema):
    person: str
    kind: Kind
    name: str
    state: State
    reason: Reason | None
    successor: str | None
    username: str | None
    locked: bool


class AccountsPage(Schema):
    items: list[AccountRow]
    page: PageInfo


class CodesIn(Input):
    codes: list[str] = Field(default_factory=list, max_length=10000,
                             description="SIS codes of the people whose logins to act on")  # fmt: skip
    all_ready: bool = Field(False, description="act on every account ready for this action instead of codes")


class ActionRow(Schema):
    person: str
    result: str
    detail: str | None = None


class ActionOut(Schema):
    counts: dict[str, int]
    results: list[ActionRow]


class RevokeIn(Input):
    reason: Reason | None = Field(None, description="why a usable login is revoked directly (recorded)")


class TransferIn(Input):
    to: str = Field(..., min_length=1, max_length=255, description="SIS code of the successor record")
    same_person: bool = Field(
        False,
        description="the two records are one person: needed when the old login is still in use (invited or "
        "active) and no sync found an identity match between them",
    )


class TransferOut(Schema):
    from_person: str
    to_person: str
    username: str | None
    state: State
    overrides_moved: int


# Sync


class SyncRunRow(Schema):
    id: int
    status: str
    format: str
    actor: str
    started_at: datetime
    finished_at: datetime | None
    confirmed: bool
    counts: dict[str, Any]


class SyncRunsPage(Schema):
    items: list[SyncRunRow]
    page: PageInfo


class SyncRunOut(SyncRunRow):
    tolerant: bool
    errors: list[Any]
    warnings: list[Any]
    diff: list[dict[str, Any]] = Field(description="for a held run: the account moves it would make")
    confirmed_by: int | None
    durations: dict[str, float] = Field(
        description="seconds spent in each step the run went through (read, compare, stage, mirror, rules, "
        "plan, apply, commit)"
    )


class UploadOut(Schema):
    id: str = Field(description="the queued upload; its run appears once the worker has read the files")
    status: str = Field(description="READY (queued), RUNNING, SUCCESSFUL or FAILED")
    run: int | None = Field(description="the sync run the upload produced, once the worker has run it")
    confirming: int | None = Field(None, description="the held run this upload confirms, if any")


# Jobs


class JobOut(Schema):
    id: int
    kind: str
    title: str
    status: str
    total: int
    done: int
    failed: int
    progress: float
    created_by: str
    created_at: str
    finished_at: str | None
    error: str | None = Field(None, description="why a failed job stopped (its last batch was undone)")
    report_pdf: bool
    report_csv: bool


class JobsPage(Schema):
    items: list[JobOut]
    page: PageInfo


# Doctor


class FixOut(Schema):
    action: str
    description: str
    command: str
    applicable: bool


class FindingOut(Schema):
    code: str
    severity: str
    message: str
    fix: FixOut
    person: str


class DiagnosisOut(Schema):
    subjects: list[str]
    student: str | None
    findings: list[FindingOut]


class ApplyIn(Input):
    username: str | None = Field(None, min_length=1, max_length=320)
    email: str | None = Field(None, min_length=1, max_length=320)
    person: str | None = Field(None, min_length=1, max_length=255)
    student: str | None = Field(None, min_length=1, max_length=255)
    finding: str = Field(..., min_length=1, max_length=60, description="the code of the finding to fix")


class AppliedOut(Schema):
    applied: dict[str, str]
    diagnosis: DiagnosisOut


# Audit


class AuditEventOut(Schema):
    id: int
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: int | None
    target: str
    run: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(Schema):
    items: list[AuditEventOut]
    page: PageInfo
