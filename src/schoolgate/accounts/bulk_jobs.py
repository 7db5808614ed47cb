"""Bulk account actions from the console (send welcome, resend, revoke, reset password, unlock) as jobs.

Each action is the same domain function the CLI and doctor use, applied to a batch of the job's items; the job
runner gives progress, cancel and resume, and a report when it ends. Small selections run at once in the
request; large ones in the worker.
"""

from __future__ import annotations

from schoolgate.accounts import lifecycle, passwords
from schoolgate.accounts.actions import provision_accounts, revoke_accounts
from schoolgate.accounts.models import Account
from schoolgate.jobs.models import ItemStatus, Job, JobItem
from schoolgate.jobs.runner import JobKind, Report, register

KIND = "account_action"
ACTIONS = {
    "provision": "Send welcome",
    "resend": "Resend welcome",
    "revoke": "Revoke access",
    "reset": "Send password reset",
    "unlock": "Unlock",
}


def process(job: Job, items: list[JobItem]) -> None:
    action, actor, district = job.params["action"], job.created_by, job.district
    accounts = {
        a.person_id: a
        for a in Account.objects.filter(person_id__in=[i.person_id for i in items]).select_related("person")
    }
    codes = {i.person_id: accounts[i.person_id].person.sis_code for i in items if i.person_id in accounts}
    if action in ("provision", "revoke"):
        run = provision_accounts if action == "provision" else revoke_accounts
        results = {r["person"]: r for r in run(district, codes=list(codes.values()), actor=actor).results}
        for item in items:
            row = results.get(codes.get(item.person_id, ""))
            if row is None:
                item.status, item.detail = ItemStatus.FAILED, "no account"
            else:
                item.status = ItemStatus.CREATED if row["result"] != "skipped" else ItemStatus.EXISTS
                item.detail = row.get("detail", row["result"])
        return
    for item in items:
        account = accounts.get(item.person_id)
        try:
            if account is None:
                raise lifecycle.IllegalTransition("no account")
            if action == "resend":
                lifecycle.resend_welcome(account, actor=actor)
            elif action == "unlock":
                lifecycle.unlock_account(account, actor=actor)
            elif action == "reset" and not passwords.request_reset(
                district, account.username or "", actor=actor
            ):
                raise lifecycle.IllegalTransition(f"no active login with an e-mail address ({account.state})")
            item.status, item.detail = ItemStatus.CREATED, ACTIONS[action].lower() + " done"
        except lifecycle.IllegalTransition as exc:
            item.status, item.detail = ItemStatus.EXISTS, str(exc)


def report(job: Job) -> Report:
    """The job's report: every account with the action's result."""
    items = job.items.select_related("person").order_by("position")
    rows = [[i.person.sis_code, i.person.display_name, i.status, i.detail] for i in items]
    done = sum(1 for r in rows if r[2] == ItemStatus.CREATED)
    return Report(
        ["code", "name", "result", "detail"],
        rows,
        [f"Status: {job.status}. Done for {done} of {len(rows)}."],
        f"{job.title}: done for {done} of {len(rows)}",
    )


register(KIND, JobKind(process=process, report=report, batch_size=500))
