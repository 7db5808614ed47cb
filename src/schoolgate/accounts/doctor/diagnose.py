"""Running the checks for a subject found by username, e-mail or SIS code (optionally against one student)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Subquery
from django.db.models.fields.json import KT

from schoolgate.accounts.doctor.account_checks import (
    password_hint,
    record_checks,
    state_checks,
    username_checks,
)
from schoolgate.accounts.doctor.context import Context
from schoolgate.accounts.doctor.identity_checks import identity_checks
from schoolgate.accounts.doctor.link_checks import flagged_contact_checks, student_checks
from schoolgate.accounts.doctor.model import ERROR, INFO, Finding, Fix
from schoolgate.accounts.models import Account, AccountState
from schoolgate.accounts.usernames import username_key
from schoolgate.core.models import AuditEvent, District
from schoolgate.core.sql import UnicodeUpper, upper_per_letter
from schoolgate.people.models import Person, PersonKind


class UnknownSubject(LookupError):
    """The person or student named does not exist in the district."""


@dataclass
class Report:
    subjects: list[str] = field(default_factory=list)
    student: str | None = None
    findings: list[Finding] = field(default_factory=list)

    def finding(self, code: str) -> Finding | None:
        """The first finding with this code, if the diagnosis made one."""
        return next((f for f in self.findings if f.code == code), None)

    def as_dict(self) -> dict[str, Any]:
        return {"subjects": self.subjects, "student": self.student,
                "findings": [f.as_dict() for f in self.findings]}  # fmt: skip


def account_for_username(district: District, username: str) -> Account | None:
    """The account holding `username` in the district or, if none does, the one that last held it before
    being revoked.

    Revoking clears the username, so the only record of who held it is the `before` snapshot of the
    account.revoked audit event; without this a revoked login looked up by username reads as a misspelling.
    """
    key = username_key(username.strip())
    live = Account.objects.filter(district=district, username_key=key).select_related("person").first()
    if live is not None:
        return live
    # SQL has no casefold on both engines, so the stored name and the typed one are compared upper-cased
    # letter by letter (UnicodeUpper, the same on PostgreSQL and SQLite). The typed name is offered both as
    # typed and as its username_key, so a case variant matches, and so does 'ß' typed for a stored 'ss'.
    typed = unicodedata.normalize("NFKC", username.strip())
    revoked = (
        AuditEvent.objects.filter(district=district, action="account.revoked", target_type="account")
        .alias(old_username=UnicodeUpper(KT("before__username")))
        .filter(old_username__in={upper_per_letter(typed), upper_per_letter(key)})
        .order_by("-at", "-id")
        .values("target_id")[:1]
    )
    # One statement: the event is a subquery of the account lookup, both scoped to the district.
    return Account.objects.filter(district=district, pk=Subquery(revoked)).select_related("person").first()


def _subjects(district: District, username: str | None, email: str | None, code: str | None) -> list[Person]:
    people = Person.objects.filter(district=district).select_related("merged_into")
    if code is not None:
        found = list(people.filter(sis_code=code))
        if not found:
            raise UnknownSubject(f"no person {code!r} in this district")
        return found
    if username is not None:
        account = account_for_username(district, username)
        if account:
            return [account.person]
        # Not a login (yet): the SIS username or e-mail the person may be typing.
        return [
            p
            for p in people.filter(sis_username__iexact=username.strip())
            | people.filter(email__iexact=username.strip())
        ]
    assert email is not None
    return list(people.filter(email__iexact=email.strip()).order_by("sis_code"))


def diagnose(
    district: District,
    *,
    username: str | None = None,
    email: str | None = None,
    person: str | None = None,
    student: str | None = None,
) -> Report:
    """Findings for everyone the username, e-mail or code names (an e-mail may name a staff member and a parent)."""
    subjects = _subjects(district, username, email, person)
    the_student = None
    if student is not None:
        the_student = Person.objects.filter(
            district=district, sis_code=student, kind=PersonKind.STUDENT
        ).first()
        if the_student is None:
            raise UnknownSubject(f"no student {student!r} in this district")
    report = Report(subjects=sorted(p.sis_code for p in subjects), student=student)
    if not subjects:
        asked = username or email
        report.findings.append(Finding(
            "unknown_user", ERROR, f"Nobody in {district.name} has the username or e-mail {asked!r}.",
            Fix("check_spelling", "Check the spelling; if they have a login, 'Forgot your password' e-mails "
                "the username.", f"schoolgate doctor {district.slug} --email ADDRESS"),
            "",
        ))  # fmt: skip
        return report
    for subject in sorted(subjects, key=lambda p: p.sis_code):
        report.findings.extend(check(district, subject, the_student))
    return report


def check(district: District, person: Person, student: Person | None) -> list[Finding]:
    ctx = Context(
        district, person, Account.objects.filter(person=person).select_related("successor").first(), student
    )
    findings = [*record_checks(ctx), *state_checks(ctx), *username_checks(ctx), *identity_checks(ctx)]
    if student is not None:
        findings.extend(student_checks(ctx))
    elif person.kind == PersonKind.STUDENT:
        findings.extend(flagged_contact_checks(ctx))
    sound = not any(f.severity == ERROR for f in findings)
    if sound and ctx.account is not None and ctx.account.state == AccountState.ACTIVE:
        findings.extend(password_hint(ctx))
    order = {ERROR: 0, "warning": 1, INFO: 2}
    return sorted(findings, key=lambda f: order[f.severity])
