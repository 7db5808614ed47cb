"""Applying a finding's fix from the doctor — only fixes that are transitions, through their domain functions."""

from __future__ import annotations

from typing import Any

from schoolgate.accounts import lifecycle
from schoolgate.accounts.doctor.diagnose import Report
from schoolgate.accounts.merge import merge_contacts
from schoolgate.accounts.models import Account
from schoolgate.accounts.reconcile import reconcile_people
from schoolgate.accounts.transfer import transfer_login
from schoolgate.core.models import District
from schoolgate.core.refusals import MISSING, Refused


class FixRejected(Refused):
    """The finding is not in the report, or its fix needs a human decision elsewhere."""


def apply_fix(district: District, report: Report, code: str, *, actor: str) -> dict[str, Any]:
    """Apply the fix of the first finding with this code; returns what was done."""
    finding = report.finding(code)
    if finding is None:
        raise FixRejected(
            f"no finding {code!r} in this diagnosis (found: {', '.join(f.code for f in report.findings)})",
            kind=MISSING,
        )
    fix = finding.fix
    if not fix.applicable:
        raise FixRejected(
            f"the fix for {code} needs a decision outside the doctor: {fix.description} ({fix.command})"
        )
    account = Account.objects.filter(district=district, person__sis_code=finding.person).first()
    if fix.action == "provision":
        lifecycle.provision_account(account, actor=actor)
    elif fix.action == "resend_welcome":
        lifecycle.resend_welcome(account, actor=actor)
    elif fix.action == "revoke":
        lifecycle.revoke_account(account, actor=actor)
    elif fix.action == "unlock":
        lifecycle.unlock_account(account, actor=actor)
    elif fix.action == "transfer":
        transfer_login(district, fix.params["old"], fix.params["new"], actor=actor)
    elif fix.action == "merge":
        merge_contacts(district, fix.params["keep"], fix.params["drop"], actor=actor)
    elif fix.action == "reinstate_and_provision":
        reconcile_people(district, [account.person_id], actor=actor)
        account.refresh_from_db()
        if account.state != "ready_to_provision":
            raise FixRejected(f"{finding.person} is not eligible for a login now ({account.state})")
        lifecycle.provision_account(account, actor=actor)
    else:  # pragma: no cover - every applicable fix has a branch above
        raise FixRejected(f"cannot apply {fix.action}")
    return {"finding": code, "action": fix.action, "person": finding.person}
