"""Bulk revoke of 100,000 accounts — state, credentials cleared, sessions ended, one audit event each — against
one set-based UPDATE of the same rows, both measured in the same run on the same data.

    .venv/bin/python bench/run.py --only bulk_revoke [--db postgres|sqlite|both] [--students N] [--write]

The limit (target: ≤ 2x) is the cheapest statement that could possibly make the change: one
`UPDATE … SET state = 'revoked', username = NULL, username_key = NULL, password_hash = '', credentials_version
= credentials_version + 1 WHERE district_id = … AND state = 'ready_to_revoke'`, run in a transaction that is
rolled back (best of three). The measured path is the product's: `revoke_accounts(all_ready=True)`, the same
function the CLI, the console's bulk action and the API call — locks, the move table, the UPDATE, the audit
INSERT … SELECT and the change announcement for integrations — committed. Every timed step starts from a settled
table (`_settle`: no dead rows left by the baseline's rollbacks, no checkpoint pending).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from harness import BenchFailure, Context, cli_env, fresh_postgres, fresh_sqlite, run_child
from report import BenchResult, Step

DEFAULT_ACCOUNTS = 100_000


def run_bulk_revoke(ctx: Context) -> BenchResult:
    n = ctx.students or DEFAULT_ACCOUNTS
    var = ctx.scratch / "var"
    database = fresh_postgres(ctx.pg_admin_url) if ctx.database == "postgres" else fresh_sqlite(var)
    env = cli_env(database, var)
    logs = ctx.scratch / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if run_child([str(ctx.cli), "migrate"], env, logs, "migrate").returncode:
        raise BenchFailure(f"migrate failed (output in {logs})")
    child = run_child(
        [sys.executable, str(Path(__file__).resolve()), "measure", str(n)], env, logs, "measure"
    )
    if child.returncode:
        raise BenchFailure(f"measure failed: {child.stderr[-2000:]}")
    doc = json.loads(child.stdout.strip().splitlines()[-1])
    steps = [
        Step(
            f"one set-based UPDATE of the {n:,} rows (best of 3, rolled back)",
            doc["update"],
            doc["update"],
            baseline=True,
        ),
        Step(
            f"revoke_accounts(all_ready) of {n:,}: state, credentials, sessions ended, {doc['audit']:,} audit "
            "events",
            doc["revoke"],
            doc["update"],
            max_ratio=2.0,
            peak_rss_mib=child.peak_rss_mib,
        ),
    ]
    facts = [
        f"Data: {n:,} contacts, each with an account `ready_to_revoke` (left_sis) holding a username and a "
        f"password hash, inserted set-based in {doc['setup']:.1f} s (untimed).",
        "Checked after the run: every account revoked with its username and password hash cleared and its "
        "credentials_version moved on (which ends its portal sessions), and exactly one `account.revoked` audit "
        "event per account.",
    ]
    return BenchResult("bulk_revoke", database.kind, n, steps, facts, database.server_version)


def _measure(n: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "schoolgate.settings")
    import django

    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from schoolgate.accounts.actions import revoke_accounts
    from schoolgate.accounts.models import Account
    from schoolgate.core import sql
    from schoolgate.core.districts import create_district
    from schoolgate.core.models import AuditEvent
    from schoolgate.people.models import Person

    started = time.perf_counter()
    district = create_district("bench", "Bench", actor="bench")
    now = timezone.now()
    people = Person.objects.bulk_create(
        (Person(district=district, sis_code=f"p{i}", kind="contact", roles="parent", family_name=f"F{i}")
         for i in range(n)), batch_size=5000,
    )  # fmt: skip
    Account.objects.bulk_create(
        (Account(district=district, person=p, state="ready_to_revoke", reason="left_sis", username=f"user{i}",
                 username_key=f"user{i}", password_hash="argon2$placeholder",  # noqa: S106 (not a real hash)
                 created_at=now, state_changed_at=now)
         for i, p in enumerate(people)), batch_size=5000,
    )  # fmt: skip
    setup = time.perf_counter() - started

    table = sql.table(Account)
    update = f"""UPDATE {table} SET state = 'revoked', username = NULL, username_key = NULL, password_hash = '',
                 credentials_version = credentials_version + 1, revoked_at = %s, state_changed_at = %s
                 WHERE district_id = %s AND state = 'ready_to_revoke'"""
    timings = []
    for _ in range(3):
        _settle(connection)
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    began = time.perf_counter()
                    cursor.execute(update, [sql.db_datetime(now), sql.db_datetime(now), district.pk])
                    timings.append(time.perf_counter() - began)
                    if cursor.rowcount != n:
                        raise SystemExit(f"baseline UPDATE touched {cursor.rowcount} rows, not {n}")
                raise _Rollback
        except _Rollback:
            pass

    _settle(connection)
    began = time.perf_counter()
    result = revoke_accounts(district, all_ready=True, actor="bench")
    revoke = time.perf_counter() - began
    revoked = Account.objects.filter(district=district, state="revoked", username=None, password_hash="",
                                     credentials_version=1).count()  # fmt: skip
    audit = AuditEvent.objects.filter(district=district, action="account.revoked").count()
    if result.done != n or revoked != n or audit != n:
        raise SystemExit(
            f"revoke: {result.done} done, {result.skipped} skipped, {revoked} revoked rows, {audit} audit events (want {n})"
        )
    print(json.dumps({"update": min(timings), "revoke": revoke, "audit": audit, "setup": setup}))


def _settle(connection: Any) -> None:
    """Start every timed step from the same state of the table: on PostgreSQL, VACUUM ANALYZE the accounts
    (a rolled-back UPDATE leaves a dead version of every row and index entry behind, which the next step would
    otherwise step over — autovacuum clears them in production) and CHECKPOINT (so that no step pays for a
    checkpoint the previous one triggered, and each writes the same full-page images). SQLite's rollback
    leaves nothing behind; ANALYZE keeps its planner statistics current."""
    from schoolgate.accounts.models import Account
    from schoolgate.core import sql

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"VACUUM ANALYZE {sql.table(Account)}")
            cursor.execute("CHECKPOINT")
        else:
            sql.analyze(cursor, sql.table(Account))


class _Rollback(Exception):
    pass


if __name__ == "__main__" and sys.argv[1:2] == ["measure"]:
    _measure(int(sys.argv[2]))
