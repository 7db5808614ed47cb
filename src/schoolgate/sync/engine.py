"""One sync run, end to end: read → stage → mirror → evaluate rules → plan → guard → apply.

Everything after reading happens in ONE database transaction with the district locked, so a run either lands
whole or not at all: a rejected set, a crash, a held run and a dry run all leave the district exactly as it
was. A dry run and a held run do the real work and roll it back; their diff is therefore exactly what a real
run would have done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from schoolgate.accounts import reconcile, supersession, username_policy
from schoolgate.accounts.models import Account
from schoolgate.accounts.transfer import transfer_login
from schoolgate.core import audit, changes, sql
from schoolgate.core.models import District
from schoolgate.people import evaluation
from schoolgate.people.models import Person
from schoolgate.sync import decisions, fingerprint, resent
from schoolgate.sync.mirror import SCOPE_TABLE, mirror
from schoolgate.sync.models import SyncRun, SyncStatus
from schoolgate.sync.readers import read_snapshot
from schoolgate.sync.readers.base import Mode, Problem
from schoolgate.sync.stage import stage, unstage

# How account moves are named in a run's counts.
MOVE_NAMES = {
    "list": "ready_to_provision",
    "withdraw": "withdrawn",
    "flag": "ready_to_revoke",
    "restore": "restored",
    "reinstate": "reinstated",
}
STEPS = ["read", "compare", "stage", "mirror", "rules", "plan", "apply", "commit"]
DIFF_LIMIT = 250_000  # moves kept with a held run; the counts stay exact beyond it

logger = logging.getLogger(__name__)


@dataclass
class SyncOutcome:
    """The report of one run, as printed by `schoolgate sync --json`."""

    run: int | None
    status: str  # applied | dry_run | held | rejected | failed
    counts: dict[str, Any] = field(default_factory=dict)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    diff: list[dict] | None = None
    format: str = ""
    matches: list[dict] = field(default_factory=list)
    # Seconds per step (STEPS) this run went through.
    durations: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "run": self.run,
            "status": self.status,
            "format": self.format,
            "counts": self.counts,
            "errors": [p.as_dict() for p in self.errors],
            "warnings": [p.as_dict() for p in self.warnings],
            "durations": self.durations,
        }
        if self.diff is not None:
            doc["diff"] = self.diff
        if self.matches:
            doc["matches"] = self.matches
        return doc


class _RollBack(Exception):
    """Raised inside the transaction to undo it while keeping the outcome computed so far."""

    def __init__(self, outcome: SyncOutcome) -> None:
        super().__init__(outcome.status)
        self.outcome = outcome


class _Clock:
    """Passes each step to `progress` and keeps the seconds spent in it, for the run's record: where a slow
    sync spent its time (a step entered twice, as a re-read after a race, adds up)."""

    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.progress = progress or (lambda _name: None)
        self.seconds: dict[str, float] = {}
        self._step: str | None = None
        self._since = 0.0

    def __call__(self, name: str) -> None:
        self.stop()
        self._step, self._since = name, time.perf_counter()
        self.progress(name)

    def stop(self) -> dict[str, float]:
        if self._step is not None:
            spent = self.seconds.get(self._step, 0.0) + time.perf_counter() - self._since
            self.seconds[self._step] = round(spent, 3)
            self._step = None
        return self.seconds


def guard_trips(district: District, revoking: int, holding: int) -> bool:
    """Would moving `revoking` of the `holding` invited/active accounts to ready_to_revoke be a mass revocation?"""
    if revoking <= district.revoke_guard_minimum:
        return False
    return revoking > district.revoke_guard_share * holding


def run_sync(
    district: District,
    path: Path | str,
    *,
    format: str = "auto",
    dry_run: bool = False,
    confirm: bool = False,
    tolerant: bool = False,
    full: bool = False,
    actor: str = audit.SYSTEM_SYNC,
    progress: Callable[[str], None] | None = None,
    confirming: int | None = None,
) -> SyncOutcome:
    """Apply one SIS file set to the district; see the module docstring.

    `full` ignores stored fingerprints and re-evaluates every person's eligibility (after a rule change).
    `confirming` names the held run whose files these are (`confirm` is then implied): the run is rejected if
    the district applied newer files since it was held.
    """
    confirm = confirm or confirming is not None
    step = _Clock(progress)
    started = timezone.now()
    run = None
    if not dry_run:
        run = SyncRun.objects.create(
            district=district,
            source=str(path),
            tolerant=tolerant,
            confirmed=confirm,
            actor=actor,
            started_at=started,
        )
    step("read")
    # A set the district has already applied, sent again unchanged, is not read at all (sync/resent.py).
    options = {"format": format, "tolerant": tolerant, "seed": fingerprint.SEED}
    key = None if full else resent.content_key(path, **options)

    def exact_key() -> str | None:
        return resent.content_key(path, **options, exact=True)

    known = resent.lookup(district, key, exact_key)
    while True:
        snapshot = (
            resent.nothing_to_stage(known)
            if known
            else read_snapshot(Path(path), format=format, tolerant=tolerant)
        )
        outcome = SyncOutcome(run=run.pk if run else None, status="", format=snapshot.format)
        outcome.warnings = list(snapshot.warnings)
        if snapshot.errors:
            outcome.status, outcome.errors = SyncStatus.REJECTED.value, list(snapshot.errors)
            return _finish(run, outcome, step)
        work = _Work(snapshot, key, known, dry_run=dry_run, confirm=confirm, full=full, step=step,
                     confirming=confirming, exact_key=exact_key)  # fmt: skip
        try:
            with transaction.atomic():
                _apply(district, work, outcome, run)
                step("commit")  # the deferred foreign-key checks of every row written, then the commit
        except resent.Stale:  # the district applied another set meanwhile: read this one after all
            known = None
            step("read")
            continue
        except _RollBack as stop:
            outcome = stop.outcome
        except Exception as exc:
            outcome.status = SyncStatus.FAILED.value
            outcome.errors = [Problem("", None, None, f"internal error: {type(exc).__name__}: {exc}")]
            _finish(run, outcome, step)
            raise
        return _finish(run, outcome, step)


@dataclass
class _Work:
    """What `_apply` is asked to do: the set (or, for a set sent again, nothing to stage) and the options."""

    snapshot: Any
    key: str | None  # the set's content key; None for a full run or a path that is not a set
    known: resent.Known | None  # the district's applied set, when this is the same set sent again
    dry_run: bool
    confirm: bool
    full: bool
    step: Callable[[str], None]
    confirming: int | None = None  # the held run being confirmed
    exact_key: Callable[[], str | None] = lambda: None  # the set's key by its bytes (resent.content_key)


def _apply(district: District, work: _Work, outcome: SyncOutcome, run: SyncRun | None) -> None:
    dry_run, confirm, full, step = work.dry_run, work.confirm, work.full, work.step
    # Lock the district: a second sync of the same district waits here until this one commits.
    district = District.objects.select_for_update().get(pk=district.pk)
    if work.confirming is not None:
        # Asked again here, with the district locked: a confirmation queued before newer files were applied.
        try:
            decisions.check_can_confirm(SyncRun.objects.get(pk=work.confirming, district=district))
        except (decisions.NotHeld, decisions.Superseded) as refused:
            outcome.status, outcome.errors = (
                SyncStatus.REJECTED.value,
                [Problem("", None, None, str(refused))],
            )
            raise _RollBack(outcome) from None
    step("compare")
    with connection.cursor() as cursor:
        if work.known is not None:
            resent.confirm(cursor, district, work.known)  # raises Stale if it moved on
        if connection.vendor == "postgresql":
            # Hash joins over millions of rows need more than the 4 MB default; LOCAL ends with the transaction.
            cursor.execute(f"SET LOCAL work_mem = '{int(settings.SCHOOLGATE_SYNC_WORK_MEM_MB)}MB'")
        bulk_people = work.known is not None or work.snapshot.modes["people"] == Mode.BULK
        narrowed = fingerprint.narrow(cursor, district, work.snapshot, full=full)
        if narrowed.snapshot.errors:
            outcome.status, outcome.errors = SyncStatus.REJECTED.value, narrowed.snapshot.errors
            raise _RollBack(outcome)
        snapshot = narrowed.snapshot
        outcome.counts["staged"] = {"people": narrowed.staged, "unchanged": narrowed.unchanged}
        if work.known is not None:
            outcome.counts["staged"].update(
                unchanged=work.known.people_in_sis, same_set_as_run=work.known.run_id
            )
            outcome.counts["schools"] = {"added": 0, "removed": 0, "updated": 0}
        step("stage")
        stage(cursor, snapshot)
        step("mirror")
        mirrored = mirror(
            cursor,
            district,
            snapshot.modes,
            memberships_replace_owners=snapshot.memberships_replace_owners,
        )
        unstage(cursor)
    outcome.counts.update(mirrored.counts)
    outcome.warnings.extend(mirrored.warnings)
    if mirrored.errors:
        outcome.status, outcome.errors = SyncStatus.REJECTED.value, mirrored.errors
        raise _RollBack(outcome)
    step("rules")
    # Only the people this run touched (and their links) can have changed eligibility. A first import
    # decided everyone's flags as it inserted them.
    scope = None if full or mirrored.fresh else f"SELECT person_id FROM {SCOPE_TABLE}"
    if mirrored.fresh and not full:
        outcome.counts["flags"] = {"links": 0, "people": 0}
    else:
        outcome.counts["flags"] = {
            "links": evaluation.evaluate_links(district, scope, scope_table=SCOPE_TABLE),
            "people": evaluation.evaluate_people(district, scope),
        }
    # Overrides are kept whatever the SIS says; say so where the rules now decide otherwise.
    disagreeing = evaluation.disagreements(district)
    outcome.counts["overrides"] = {"sis_disagrees": len(disagreeing)}
    for row in disagreeing:
        outcome.warnings.append(
            Problem(
                "", None, None,
                f"override kept: {row['contact']} → {row['student']} {row['field']} is forced "
                f"{'on' if row['override'] else 'off'} ({row['reason']}); the rules say "
                f"{'on' if row['rules'] else 'off'}",
            )
        )  # fmt: skip
    step("plan")
    plan = reconcile.plan(district, scope)
    outcome.counts["accounts"] = {MOVE_NAMES[k]: v for k, v in plan.as_dict().items()}
    outcome.counts["identity"] = {
        "strong": sum(m.strength == "strong" for m in plan.matches),
        "weak": sum(m.strength == "weak" for m in plan.matches),
        "transferred": 0,
    }
    outcome.matches = [m.as_dict() for m in plan.matches]
    # Every step that moves accounts runs before the run is held or reported as a dry run (all of it rolls
    # back then): logins that follow SIS usernames can clash and be flagged, and automatic transfers move
    # logins, so a dry run that stopped after the plan showed none of that, and the guard did not count it.
    step("apply")
    run_id = run.pk if run else None
    reconcile.apply(district, actor=audit.SYSTEM_SYNC, run_id=run_id, keep_plan=True)
    clashes: dict[int, str] = {}
    if district.username_source != "chosen":  # usernames follow the SIS: take changes, flag clashes
        outcome.counts["usernames"], clashes = username_policy.follow_sis(
            district, scope, actor=audit.SYSTEM_SYNC, run_id=run_id
        )
    transfers = []
    if district.auto_transfer_strong_matches:  # district policy: carry logins over on strong evidence
        transfers = supersession.pending_transfers(district, plan.matches)
        for old, new in transfers:
            transfer_login(district, old, new, actor=audit.SYSTEM_SYNC)
    outcome.counts["identity"]["transferred"] = len(transfers)
    revoking = plan.revoking + len(clashes)
    held = guard_trips(district, revoking, plan.holding)
    outcome.counts["guard"] = {
        "revoking": revoking,
        "holding": plan.holding,
        "share": district.revoke_guard_share,
        "tripped": held,
    }
    if dry_run:
        outcome.status, outcome.diff = "dry_run", _diff(clashes, transfers)
        raise _RollBack(outcome)
    if held and not confirm:
        outcome.status, outcome.diff = SyncStatus.HELD.value, _diff(clashes, transfers, limit=DIFF_LIMIT)
        raise _RollBack(outcome)
    reconcile.discard_plan()
    # The people this run touched may have new names, e-mails or students: their accounts' data changed.
    account = sql.table(Account)
    people = scope or f"SELECT id FROM {sql.table(Person)} WHERE district_id = %s"
    changes.accounts_changed(
        district.pk,
        f"SELECT id AS account_id FROM {account} WHERE district_id = %s AND person_id IN ({people})",
        [district.pk] if scope else [district.pk, district.pk],
    )
    # Warnings that name lines hold for these bytes only; the same rows in another order are numbered anew.
    exact = ""
    if work.key and bulk_people and any(w.file and w.line for w in outcome.warnings):
        exact = work.known.exact_key if work.known else work.exact_key() or ""
    with connection.cursor() as cursor:
        resent.record(
            cursor,
            district,
            work.key if bulk_people else None,
            run.pk if run else None,
            work.known,
            exact_key=exact,
            people=narrowed.people,
        )
    outcome.status = SyncStatus.APPLIED.value
    if confirm and run is not None:
        # A confirmed run settles the held runs of the same files: they need no further action.
        SyncRun.objects.filter(district=district, status=SyncStatus.HELD, source=run.source).update(
            status=SyncStatus.CONFIRMED, confirmed_by=run
        )


def _diff(clashes: dict[int, str], transfers: list[tuple[str, str]], limit: int | None = None) -> list[dict]:
    """The run's moves: the plan's, with the logins that automatic transfer carried over, then the username
    clashes flagged after it (`clashes`: account → its state before)."""
    moves = reconcile.planned_moves(limit=limit)
    successor = dict(transfers)
    for move in moves:
        if move["person"] in successor:  # flagged as superseded, then its login moved on: revoked
            move.update(to="revoked", successor=successor[move["person"]])
    flagged = Account.objects.filter(pk__in=clashes).values_list("pk", "person__sis_code", "person__kind")
    for pk, code, kind in sorted(flagged, key=lambda row: row[1]):
        moves.append({"person": code, "kind": kind, "from": clashes[pk], "to": "ready_to_revoke",
                      "reason": "duplicate_username", "successor": None})  # fmt: skip
    return moves[:limit] if limit else moves


def _finish(run: SyncRun | None, outcome: SyncOutcome, clock: _Clock) -> SyncOutcome:
    outcome.durations = clock.stop()
    logger.info(
        "sync run %s of %s: %s in %.1f s",
        outcome.run or "(dry run)",
        run.district.slug if run else "-",
        outcome.status,
        sum(outcome.durations.values()),
        extra={"run": outcome.run, "status": outcome.status, "durations": outcome.durations},
    )
    if run is not None:
        run.status = outcome.status
        run.format = outcome.format
        run.finished_at = timezone.now()
        run.counts = outcome.counts
        run.errors = [p.as_dict() for p in outcome.errors]
        run.warnings = [p.as_dict() for p in outcome.warnings]
        run.diff = outcome.diff or []
        run.durations = outcome.durations
        run.save()
        changes.sync_run_finished(run)  # webhooks send `sync.finished`
    return outcome
