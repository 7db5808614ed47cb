"""Admin roles: each a named set of permissions. The console, the API and the CLI ask only "may this admin do
this permission here?" (see `authz`), never "is this admin a Primary?".

Built-in roles mirror the SET SEG levels: Primary (everything in the district, manages admins), Support
(troubleshoot, resend, reset, unlock, revoke; no admin management), Billing (invoices and usage only),
School admin (like Support, limited to chosen schools), Auditor (read-only, including the audit log).
Service-specific levels are data (`ServiceRole` rows), e.g. access to one integration's settings and logs.
"""

from __future__ import annotations

# Every permission, by area.
VIEW_ACCOUNTS = "accounts.view"
ACT_ACCOUNTS = "accounts.act"  # send welcome, resend, reset password, unlock, revoke, transfer
EDIT_PEOPLE = "people.edit"  # overrides, merges
SYNC_VIEW = "sync.view"
SYNC_RUN = "sync.run"  # upload, confirm or discard a held run
GENERATE = "accounts.generate"
DOCTOR = "doctor.use"
AUDIT_VIEW = "audit.view"
MANAGE_ADMINS = "admins.manage"
BILLING_VIEW = "billing.view"
INTEGRATIONS = "integrations.manage"

ALL = frozenset(
    {VIEW_ACCOUNTS, ACT_ACCOUNTS, EDIT_PEOPLE, SYNC_VIEW, SYNC_RUN, GENERATE, DOCTOR, AUDIT_VIEW, MANAGE_ADMINS,
     BILLING_VIEW, INTEGRATIONS}
)  # fmt: skip
# What applying a doctor's fix needs besides DOCTOR: the permission of the transition it makes, as at that
# transition's own door. Diagnosing is reading; "Apply fix" is acting. An action not listed here is applied by
# no one from the doctor.
FIX_PERMISSIONS = {
    "provision": ACT_ACCOUNTS,
    "resend_welcome": ACT_ACCOUNTS,
    "reinstate_and_provision": ACT_ACCOUNTS,
    "unlock": ACT_ACCOUNTS,
    "revoke": ACT_ACCOUNTS,
    "transfer": ACT_ACCOUNTS,
    "merge": EDIT_PEOPLE,
}
SUPPORT = frozenset({VIEW_ACCOUNTS, ACT_ACCOUNTS, EDIT_PEOPLE, SYNC_VIEW, DOCTOR, GENERATE})

PRIMARY, SUPPORT_ROLE, BILLING, SCHOOL_ADMIN, AUDITOR = (
    "primary",
    "support",
    "billing",
    "school_admin",
    "auditor",
)
ROLES: dict[str, frozenset[str]] = {
    PRIMARY: ALL,
    SUPPORT_ROLE: SUPPORT,
    BILLING: frozenset({BILLING_VIEW}),
    SCHOOL_ADMIN: SUPPORT - {GENERATE},
    AUDITOR: frozenset({VIEW_ACCOUNTS, SYNC_VIEW, AUDIT_VIEW}),
}
ROLE_NAMES = {
    PRIMARY: "Primary",
    SUPPORT_ROLE: "Support",
    BILLING: "Invoices (billing)",
    SCHOOL_ADMIN: "School admin",
    AUDITOR: "Auditor (read-only)",
}
SERVICE_PREFIX = "service:"
