"""Helpers for sync tests: fixture paths, and a snapshot of everything a sync may change."""

from __future__ import annotations

from pathlib import Path

from schoolgate.accounts.models import Account, Invitation
from schoolgate.core.models import AuditEvent, School
from schoolgate.people.models import Link, Membership, Person

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sis"


def district_state(district) -> dict[str, list]:
    """Every row of the district's data, comparable with ==: proves a run changed nothing."""

    def rows(model, *fields):
        return sorted(model.objects.filter(district=district).values_list(*fields))

    return {
        "schools": rows(School, "sis_code", "name", "org_type", "parent_code", "in_sis"),
        "people": rows(
            Person, "sis_code", "kind", "roles", "given_name", "family_name", "email", "enabled", "in_sis",
            "login_rule", "login_allowed",
        ),
        "links": rows(
            Link, "student__sis_code", "contact__sis_code", "relationship", "declared_by_student",
            "declared_by_contact", "in_sis", "portal_flag", "flag_rule",
        ),
        "memberships": rows(Membership, "person__sis_code", "school__sis_code", "role", "is_primary"),
        "accounts": rows(Account, "person__sis_code", "state", "reason", "username", "credentials_version"),
        "invitations": rows(Invitation, "account__person__sis_code", "used_at", "withdrawn_at"),
        "audit": rows(AuditEvent, "id"),
    }  # fmt: skip


def accounts_by_person(cli, slug: str, *args: str) -> dict[str, dict]:
    result = cli("accounts", slug, *args, "--json")
    assert result.code == 0, result.stderr
    return {row["person"]: row for row in result.json["accounts"]}


def audit_disagreements(district) -> list[tuple[str, str | None, str | None]]:
    """Accounts whose state differs from what their last audit event says it became (should be none)."""
    last: dict[int, dict | None] = {}
    events = AuditEvent.objects.filter(district=district, target_type="account").order_by("id")
    for target, after in events.values_list("target_id", "after"):
        last[target] = after
    wrong = []
    for account in Account.objects.filter(district=district).select_related("person"):
        said = (last.get(account.pk) or {}).get("state")
        if said != account.state:
            wrong.append((account.person.sis_code, account.state, said))
    return wrong
