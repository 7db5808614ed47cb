"""Generating accounts for a group: preview, then a background job with a report.

A group names an audience (guardians, students or staff, optionally narrowed by school or grade), where
usernames come from (the SIS, a naming scheme, or chosen at activation) and the password policy. The preview
lists every eligible person of the group as "will be created", "will fail" (saying why) or "exists", with the
username each would get — the very usernames the job then gives: both allocate them in the same order (person
by person, in the order the records were created), the job a batch at a time. The job creates only what does
not exist — existing logins are never silently regenerated — one committed
batch at a time, so it can be cancelled, killed and resumed without duplicates. Each item ends created, exists
or failed (with the reason); the job ends with a PDF and CSV report announced in the starter's notifications.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db import transaction
from django.db.models import Q, QuerySet

from schoolgate.accounts import lifecycle
from schoolgate.accounts.allocation import allocate, requests_from
from schoolgate.accounts.models import Account, AccountGroup, AccountState, PasswordMode, UsernameSource
from schoolgate.accounts.moves import select_accounts
from schoolgate.accounts.naming import compile_scheme
from schoolgate.accounts.passwords import set_by_admin
from schoolgate.accounts.username_claims import holders
from schoolgate.accounts.usernames import InvalidUsername, clean_username, username_key
from schoolgate.jobs.models import ItemStatus, Job, JobItem
from schoolgate.jobs.runner import JobKind, Report, create_job, register
from schoolgate.people.models import Person

KIND = "generate_accounts"
WILL_BE_CREATED, WILL_FAIL, EXISTS = "will be created", "will fail", "exists"
PASSWORD_ALPHABET = "".join(ch for ch in string.ascii_letters + string.digits if ch not in "0O1lI")


@dataclass(frozen=True)
class PreviewRow:
    person: str
    name: str
    kind: str
    account: str  # WILL_BE_CREATED, WILL_FAIL or EXISTS
    username: str | None
    detail: str

    def as_dict(self) -> dict:
        return {"person": self.person, "name": self.name, "kind": self.kind, "account": self.account,
                "username": self.username, "detail": self.detail}  # fmt: skip


def group_accounts(group: AccountGroup) -> QuerySet[Account]:
    """The accounts of everyone eligible in the group (revoked logins are history, not members)."""
    qs = Account.objects.filter(district=group.district, person__kind=group.audience).exclude(
        state=AccountState.REVOKED
    )
    if group.school_codes:
        qs = qs.filter(person__memberships__school__sis_code__in=group.school_codes)
    if group.grades:
        qs = qs.filter(
            reduce(
                or_,
                [
                    Q(person__grades=g) | Q(person__grades__startswith=f"{g},") | Q(person__grades__endswith=f",{g}")
                    | Q(person__grades__contains=f",{g},")
                    for g in group.grades
                ],
            )
        )  # fmt: skip
    return qs.distinct().select_related("person").order_by("person__sis_code")


def _usernames(group: AccountGroup, people: QuerySet[Person]) -> tuple[dict[int, str], dict[int, str]]:
    """Usernames for people who get one now, and why others cannot; nothing when the person will choose.

    `people` is a queryset (not a list of ids) so a preview of a very large group stays one subquery.
    """
    if group.username_source == UsernameSource.CHOSEN:
        return {}, {}
    if group.username_source == UsernameSource.SCHEME:
        allocation = allocate(
            group.district,
            requests_from(people),
            scheme=compile_scheme(group.naming_scheme),
            max_length=group.username_max_length,
        )
        return allocation.usernames, allocation.failures
    names: dict[int, str] = {}
    failures: dict[int, str] = {}
    wanted: dict[int, str] = {}
    for person in people.order_by("pk").iterator(chunk_size=2000):  # the order the job's batches take
        try:
            wanted[person.pk] = clean_username(person.sis_username or "")
        except InvalidUsername as exc:
            failures[person.pk] = f"the SIS username cannot be used: {exc}"
    held = holders(group.district, {username_key(n) for n in wanted.values()})
    for person_id, name in wanted.items():
        key = username_key(name)
        if key in held:
            failures[person_id] = f"the SIS username {name!r} is already used by {held[key][1]}"
        else:
            held[key] = (0, "another person in this job")
            names[person_id] = name
    return names, failures


def preview(group: AccountGroup, *, limit: int | None = None) -> list[PreviewRow]:
    """Every eligible person of the group: "will be created" (with the username it would get) or "exists"."""
    # In the job's order, so that the first `limit` rows are allocated exactly as the job will allocate them.
    members = group_accounts(group).order_by("person_id")
    accounts = list(members[:limit] if limit else members)
    new = Person.objects.filter(
        pk__in=[a.person_id for a in accounts if a.state == AccountState.READY_TO_PROVISION]
    )
    if not limit:  # the whole group: a subquery, however large it is
        new = Person.objects.filter(account__in=members.filter(state=AccountState.READY_TO_PROVISION))
    with transaction.atomic():
        names, failures = _usernames(group, new)
        transaction.set_rollback(True)  # a preview reserves nothing
    rows = []
    for account in accounts:
        person = account.person
        if account.state != AccountState.READY_TO_PROVISION:
            rows.append(PreviewRow(person.sis_code, person.display_name, person.kind, EXISTS, account.username,
                                   f"already {account.state}"))  # fmt: skip
            continue
        chosen = group.username_source == UsernameSource.CHOSEN
        failure = failures.get(person.pk)
        rows.append(PreviewRow(
            person.sis_code, person.display_name, person.kind, WILL_FAIL if failure else WILL_BE_CREATED,
            names.get(person.pk), failure or ("chosen by the person at activation" if chosen else ""),
        ))  # fmt: skip
    return rows if limit else sorted(rows, key=lambda row: row.person)  # the whole group: by SIS code


def start(group: AccountGroup, *, actor: str) -> Job:
    """Queue the generation job for the group (the worker runs it).

    Its items are in person-id order, the order the preview allocates usernames in: the job allocates a batch
    at a time, and in another order two people of one stem in different batches swapped their numbers (the
    preview an admin approved then named the wrong username). The report lists them by SIS code."""
    accounts = list(group_accounts(group).order_by("person_id").values_list("person_id", "state"))
    settled = {
        pid: (ItemStatus.EXISTS, f"already {state}")
        for pid, state in accounts
        if state != "ready_to_provision"
    }
    return create_job(
        group.district,
        kind=KIND,
        title=f"Generate accounts: {group.name}",
        person_ids=[pid for pid, _ in accounts],
        params={"group": group.pk},
        actor=actor,
        statuses=settled,
    )


def _generated_password(length: int) -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(max(length, 12)))


def process(job: Job, items: list[JobItem]) -> None:
    group = AccountGroup.objects.get(pk=job.params["group"])
    accounts = {
        a.person_id: a
        for a in Account.objects.select_for_update()
        .filter(district=job.district, person_id__in=[i.person_id for i in items])
        .select_related("person")
    }
    todo: list[tuple[JobItem, Account]] = []
    for item in items:
        account = accounts.get(item.person_id)
        if account is None:
            item.status, item.detail = (
                ItemStatus.FAILED,
                "no longer eligible: no account is listed for this person",
            )
        elif account.state != AccountState.READY_TO_PROVISION:
            item.status, item.username = ItemStatus.EXISTS, account.username or ""
            item.detail = f"already {account.state}"
        else:
            todo.append((item, account))
    names, failures = _usernames(group, Person.objects.filter(pk__in=[a.person_id for _, a in todo]))
    ready: list[tuple[JobItem, Account]] = []
    for item, account in todo:
        if account.person_id in failures:
            item.status, item.detail = ItemStatus.FAILED, failures[account.person_id]
            continue
        account.group = group
        if account.person_id in names:
            account.username = names[account.person_id]
            account.username_key = username_key(account.username)
        account.save(update_fields=["group", "username", "username_key"])
        ready.append((item, account))
    generated = group.password_mode == PasswordMode.GENERATED
    moved = lifecycle.provision(
        job.district, select_accounts(a.pk for _, a in ready), actor=job.created_by, run_id=job.pk,
        want_ids=True, assign_usernames=False, send_welcome=not generated,
    )  # fmt: skip
    made = set(moved.moved)
    for item, account in ready:
        if account.pk not in made:
            item.status, item.detail = (
                ItemStatus.FAILED,
                moved.refused.get(account.pk, "could not be provisioned"),
            )
            continue
        item.status, item.username = ItemStatus.CREATED, account.username or ""
        item.detail = moved.notes.get(account.pk, "" if generated else "welcome e-mail queued")
        if generated:
            password = _generated_password(group.min_password_length)
            set_by_admin(account, password, must_change=group.must_change_password, actor=job.created_by)
            item.handout = password
            item.detail = (
                "password generated: hand it out; it must be changed at first login"
                if (group.must_change_password)
                else "password generated: hand it out"
            )


def report(job: Job) -> Report:
    """The job's report: every person with the result, username and any generated password."""
    items = job.items.select_related("person", "person__account").order_by("person__sis_code")
    generated = any(item.handout for item in items)
    headers = ["code", "name", "result", "username", "detail"] + (["password"] if generated else [])
    rows = [
        [
            item.person.sis_code,
            item.person.display_name,
            item.status,
            item.username or _existing(item),
            item.detail,
        ]
        + ([item.handout] if generated else [])
        for item in items
    ]
    counts = {s: sum(1 for r in rows if r[2] == s) for s in ("created", "exists", "failed", "pending")}
    summary = [
        f"Status: {job.status}. Created {counts['created']}, already existed {counts['exists']}, "
        f"failed {counts['failed']}"
        + (f", not reached {counts['pending']}" if counts["pending"] else "")
        + ".",
        "This report holds generated passwords: hand them out and delete it." if generated else "",
    ]
    return Report(
        headers,
        rows,
        [line for line in summary if line],
        f"{job.title}: {counts['created']} created, {counts['failed']} failed",
        summary[0],
    )


def _existing(item: JobItem) -> str:
    """The login name of an item that already existed when the job started (settled then, without one)."""
    if item.status != ItemStatus.EXISTS:
        return ""
    account = getattr(item.person, "account", None)
    return (account.username or "") if account is not None else ""


register(KIND, JobKind(process=process, report=report, batch_size=200))
