"""The `usernames` benchmark: allocating usernames for 100,000 new guardians, in a district that already holds
1,000,000 accounts (thousands per common name) and in an empty one.

The runner creates a fresh database (`schoolgate_bench_usernames` on PostgreSQL), migrates it with the CLI,
adds two districts (`bench`, `empty`), and then runs this file as a child process, once to seed and once per
timed step:

    usernames_bench.py seed --existing N --new M --seed S   # untimed: people and accounts, set-based
    usernames_bench.py allocate empty first                   # M usernames in an empty district (baseline)
    usernames_bench.py allocate bench first                   # the same M names beside N accounts: no
                                                              #   counter rows yet, found from the accounts
    usernames_bench.py allocate bench again                   # M more people with those same names: every
                                                              #   counter row stored (the steady state)
    usernames_bench.py allocate bench next                    # M people with newly drawn names (a mix)

`seed` gives district `bench` N active accounts whose usernames follow `{first}.{last}` with counters
(john.smith, john.smith2, …, in the order the people were drawn), names drawn from bench/namebank.py, and
three batches of M guardians with accounts ready to provision; district `empty` gets a copy of the first
batch and nothing else. Rows go in with COPY (`schoolgate.core.sql.load_frame`) and INSERT … SELECT, never
one by one, and the tables are vacuumed and analysed afterwards, as autovacuum would have left a district that
old. Each `allocate` reads the batch's person fields, then times, in one transaction, `allocate()` with the
scheme `{first}.{last}` (max length 30) plus writing the usernames (COPY into a temporary table and one
UPDATE … FROM), best of three tries of which the first two roll back, and prints its figures as JSON. The claim under test is "cost proportional to the new
accounts, not to the collisions": the empty district is the baseline; there is no numeric target.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import polars as pl

from harness import (
    BenchFailure,
    ChildResult,
    Context,
    check_child,
    cli_env,
    fresh_postgres,
    fresh_sqlite,
    parse_json_output,
    run_child,
)
from namebank import NameBank
from report import BenchResult, Step
from rng import Draws

DEFAULT_EXISTING = {"postgres": 1_000_000, "sqlite": 100_000}
NEW_SHARE = 0.1  # new guardians per existing account: 100,000 beside 1,000,000
DATABASE_NAME = "schoolgate_bench_usernames"
SCHEME, MAX_LENGTH = "{first}.{last}", 30
BIG, EMPTY = ("bench", "Bench District"), ("empty", "Empty District")
# Batch → the first letter of its people's SIS codes ("x" is the existing accounts').
BATCHES = {"first": "f", "again": "a", "next": "n"}
WRITE_STATEMENTS = 4  # create temporary table, COPY, UPDATE … FROM, drop
# Each step runs this many times in its process and reports the fastest: the earlier tries roll back, so all
# do the same work. The machine is shared; one try can be slowed by others.
REPEATS = 3
THIS_FILE = Path(__file__).resolve()


def run_usernames(ctx: Context) -> BenchResult:
    """Seed both districts, then time the three allocations, each in its own process."""
    existing = ctx.students or DEFAULT_EXISTING[ctx.database]
    new = max(1, round(existing * NEW_SHARE))
    if not ctx.cli.exists():
        raise BenchFailure(f"{ctx.cli} not found: install the project into .venv first (pip install -e .)")
    logs, var_dir = ctx.scratch / "logs", ctx.scratch / "var"
    if ctx.database == "postgres":
        database = fresh_postgres(ctx.pg_admin_url, DATABASE_NAME)
        shutil.rmtree(var_dir, ignore_errors=True)
        var_dir.mkdir(parents=True)
    else:
        database = fresh_sqlite(var_dir)
    env = cli_env(database, var_dir)
    cli = str(ctx.cli)
    migrate = _run_ok([cli, "migrate"], env, logs, "migrate")
    for slug, name in (BIG, EMPTY):
        _run_ok([cli, "district", "add", slug, name], env, logs, f"district-add-{slug}")
    seed_args = ["seed", "--existing", str(existing), "--new", str(new), "--seed", str(ctx.seed)]
    seeded = _run_ok([sys.executable, str(THIS_FILE), *seed_args], env, logs, "seed")
    data = parse_json_output(seeded.stdout)

    runs = [
        (f"empty district: {new:,} usernames", EMPTY[0], "first"),
        (f"{existing:,} accounts: the same {new:,} names, first time", BIG[0], "first"),
        (f"{existing:,} accounts: {new:,} more of those names", BIG[0], "again"),
        (f"{existing:,} accounts: {new:,} newly drawn names", BIG[0], "next"),
    ]
    steps, facts = [], []
    for label, slug, batch in runs:
        child = _run_ok(
            [sys.executable, str(THIS_FILE), "allocate", slug, batch], env, logs, f"allocate-{slug}-{batch}"
        )
        figures = parse_json_output(child.stdout)
        if figures["usernames"] != new or figures["failures"]:
            raise BenchFailure(f"{label}: {figures['usernames']} usernames, failures {figures['failures']}")
        seconds = figures["allocate_seconds"] + figures["write_seconds"]
        rate = new / seconds
        steps.append(
            Step(
                name=f"{label} ({rate:,.0f}/s, {figures['queries']:,} queries)",
                seconds=seconds,
                peak_rss_mib=child.peak_rss_mib,
                counts=figures,
            )
        )
        facts.append(
            f"{label}: allocate() {figures['allocate_seconds']:.2f} s + write {figures['write_seconds']:.2f} s "
            f"= {rate:,.0f} usernames/s; {figures['allocate_queries']:,} statements from allocate() + "
            f"{WRITE_STATEMENTS} for the write; {figures['stems']:,} distinct stems, "
            f"{figures['new_stems']:,} of them without a counter row (first-number scans: "
            f"{figures['scan_seconds']:.2f} s), {figures['rounds']} round(s) of key checks, "
            f"{figures['skipped']:,} numbers skipped; reading the {new:,} people's fields before the clock: "
            f"{figures['read_seconds']:.2f} s; tries: "
            + ", ".join(f"{t:.2f}" for t in figures["tries"])
            + " s."
        )
    empty, first, again, later = (step.seconds for step in steps)
    facts = [
        _data_fact(ctx.seed, existing, new, data),
        f"Timed: `allocate()` (scheme `{SCHEME}`, max length {MAX_LENGTH}) plus writing the usernames (a "
        "temporary table loaded with COPY on PostgreSQL, then one `UPDATE … FROM`), in one transaction, in a "
        f"child process after Django start-up; best of {REPEATS} tries (all but the last roll back). Queries "
        "are the statements `allocate()` sends (counted with `connection.execute_wrapper`) plus "
        f"{WRITE_STATEMENTS} for the write.",
        f"Against the empty district's {empty:.2f} s for the same names: {first / empty:.2f}x beside "
        f"{existing:,} accounts the first time (each stem's counter found once from the accounts holding "
        f"it), {again / empty:.2f}x once the counters are stored, {later / empty:.2f}x for newly drawn names. "
        "No target is set; the claim is cost proportional to the new accounts.",
        *facts,
        f"Untimed set-up: migrate {migrate.seconds:.1f} s, seeding {seeded.seconds:.1f} s "
        f"({data['existing_seconds']:.1f} s for the existing accounts).",
    ]
    return BenchResult(
        benchmark="usernames",
        database=ctx.database,
        n_students=existing,  # the runner's --students: here the existing accounts in district `bench`
        steps=steps,
        facts=facts,
        database_version=database.server_version,
    )


def _run_ok(argv: list[str], env: dict[str, str], logs: Path, name: str) -> ChildResult:
    result = run_child(argv, env, logs, name)
    check_child(result, name)
    return result


def _data_fact(seed: int, existing: int, new: int, data: dict) -> str:
    top = ", ".join(f"{stem} {count:,}" for stem, count in data["top_stems"])
    return (
        f"Data (seed {seed}; the report's 'students' figure is the existing accounts): district `bench` holds "
        f"{existing:,} active accounts named `{SCHEME}` with counters from bench/namebank.py names, "
        f"{data['existing_stems']:,} distinct stems, {data['stems_over_1000']} held by 1,000+ accounts "
        f"(largest: {top}). Each batch is {new:,} guardians drawn from the same names: the first batch has "
        f"{data['batch_stems']:,} distinct stems, {data['batch_people_colliding']:,} of its people "
        f"({data['batch_people_colliding'] / new:.0%}) share a stem with existing accounts, on average with "
        f"{data['batch_mean_existing']:,.0f} of them; the second repeats its names, the third is a new "
        "draw. District `empty` holds only a copy of the first batch."
    )


# ---- child process: Django is set up only here, with the database the runner chose ----------------------


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "schoolgate.settings")
    import django

    django.setup()


def _draw_names(bank: NameBank, n: int, stream: str) -> pl.DataFrame:
    """`n` people's given and family names as a SIS records them (native script for some families)."""
    draws = Draws(stream)
    country = bank.draw_country(draws, n)
    female = draws.bernoulli(n, 0.5)
    native = bank.draw_native(draws, country)
    fore = bank.forenames[["roman", "local"]][bank.draw_forename(draws, country, female)]
    sur = bank.surnames[["roman", "local"]][bank.draw_surname(draws, country)]

    def pick(table: pl.DataFrame) -> pl.Series:
        local = table["local"].fill_null(table["roman"])
        return pl.select(pl.when(native).then(local).otherwise(table["roman"])).to_series()

    return pl.DataFrame({"given_name": pick(fore), "family_name": pick(sur)})


def _with_stems(names: pl.DataFrame) -> pl.DataFrame:
    """Add each person's stem, rendered by the project's own scheme (once per distinct name pair)."""
    from schoolgate.accounts.naming import compile_scheme

    scheme = compile_scheme(SCHEME)
    pairs = names.unique(["given_name", "family_name"])
    stems = [scheme.render(row, MAX_LENGTH) for row in pairs.iter_rows(named=True)]
    return names.join(pairs.with_columns(stem=pl.Series(stems)), on=["given_name", "family_name"], how="left")


def _people_frame(district_id: int, codes: pl.Series, names: pl.DataFrame) -> pl.DataFrame:
    n = names.height
    blank = pl.Series([""] * n)
    return pl.DataFrame(
        {
            "district_id": pl.Series([district_id] * n, dtype=pl.Int64),
            "sis_code": codes,
            "kind": pl.Series(["contact"] * n),
            "roles": pl.Series(["parent"] * n),
            "given_name": names["given_name"],
            "family_name": names["family_name"],
            "middle_name": blank,
            "preferred_given_name": blank,
            "email": blank,
            "phone": blank,
            "sms": blank,
            "sis_username": blank,
            "identifier": blank,
            "grades": blank,
            "enabled": pl.Series([True] * n),
            "in_sis": pl.Series([True] * n),
        }
    )


def _insert_people_and_accounts(
    cursor, district_id: int, people: pl.DataFrame, usernames: pl.DataFrame | None
) -> None:
    """People, then one account each (active with a username when given, else ready to provision)."""
    from django.utils import timezone

    from schoolgate.accounts.models import Account
    from schoolgate.core import sql
    from schoolgate.people.models import Person

    sql.load_frame(cursor, sql.table(Person), people)
    codes = "bench_usernames_codes"
    columns = "sis_code VARCHAR(255) PRIMARY KEY, username VARCHAR(150)"
    sql.create_temp_table(cursor, codes, columns)
    frame = usernames if usernames is not None else people.select("sis_code", username=pl.lit(None, pl.Utf8))
    sql.load_frame(cursor, codes, frame)
    sql.analyze(cursor, codes)
    now = sql.db_datetime(timezone.now())
    state = "CASE WHEN c.username IS NULL THEN 'ready_to_provision' ELSE 'active' END"
    cursor.execute(
        f"""INSERT INTO {sql.table(Account)} (district_id, person_id, state, reason, username, username_key,
                password_hash, must_change_password, credentials_version, created_at, state_changed_at,
                activated_at)
            SELECT p.district_id, p.id, {state}, '', c.username, c.username, '', {sql.sql_false()}, 0,
                %s, %s, CASE WHEN c.username IS NULL THEN NULL ELSE %s END
            FROM {sql.table(Person)} p JOIN {codes} c ON c.sis_code = p.sis_code
            WHERE p.district_id = %s""",
        [now, now, now, district_id],
    )
    sql.drop_temp_table(cursor, codes)


def seed(existing: int, new: int, seed_value: int) -> dict:
    """Fill district `bench` with existing accounts and the batches, `empty` with a copy of the first."""
    _setup_django()
    from django.db import connection, transaction

    from schoolgate.accounts.models import Account
    from schoolgate.core import sql
    from schoolgate.core.models import District
    from schoolgate.people.models import Person

    bank = NameBank.load()
    big, empty = District.objects.get(slug=BIG[0]), District.objects.get(slug=EMPTY[0])
    started = time.perf_counter()
    old = _with_stems(_draw_names(bank, existing, f"{seed_value}:usernames:existing"))
    # The series a scheme without a counter gives: the first holder the bare stem, then stem2, stem3, …
    old = old.with_columns(number=pl.int_range(1, pl.len() + 1).over("stem"))
    old = old.with_columns(
        username=pl.when(pl.col("number") == 1)
        .then(pl.col("stem"))
        .otherwise(pl.col("stem") + pl.col("number").cast(pl.Utf8))
    )
    if old["username"].n_unique() != old.height:
        raise SystemExit("generated usernames are not unique")
    codes = pl.select(pl.format("x{}", pl.int_range(0, existing))).to_series().alias("sis_code")
    with transaction.atomic(), connection.cursor() as cursor:
        _insert_people_and_accounts(
            cursor,
            big.pk,
            _people_frame(big.pk, codes, old),
            pl.DataFrame({"sis_code": codes, "username": old["username"]}),
        )
    existing_seconds = time.perf_counter() - started

    batches = {}
    for batch, letter in BATCHES.items():
        stream = "first" if batch == "again" else batch
        names = _draw_names(bank, new, f"{seed_value}:usernames:{stream}")
        batches[batch] = names
        codes = pl.select(pl.format(f"{letter}{{}}", pl.int_range(0, new))).to_series().alias("sis_code")
        with transaction.atomic(), connection.cursor() as cursor:
            _insert_people_and_accounts(cursor, big.pk, _people_frame(big.pk, codes, names), None)
            if batch == "first":
                _insert_people_and_accounts(cursor, empty.pk, _people_frame(empty.pk, codes, names), None)
    with connection.cursor() as cursor:  # outside any transaction: VACUUM refuses to run in one
        for table in (sql.table(Person), sql.table(Account)):
            cursor.execute(f"VACUUM ANALYZE {table}" if sql.is_postgres() else f"ANALYZE {table}")

    held = old.group_by("stem").agg(held=pl.len())
    first = _with_stems(batches["first"]).join(held, on="stem", how="left")
    colliding = first.filter(pl.col("held").is_not_null())
    top = held.sort(["held", "stem"], descending=[True, False]).head(5)
    return {
        "existing_seconds": round(existing_seconds, 2),
        "existing_stems": held.height,
        "stems_over_1000": int((held["held"] >= 1000).sum()),
        "top_stems": [[s, int(c)] for s, c in top.iter_rows()],
        "batch_stems": first["stem"].n_unique(),
        "batch_people_colliding": colliding.height,
        "batch_mean_existing": float(colliding["held"].mean() or 0.0),
    }


def allocate_batch(slug: str, batch: str) -> dict:
    """Time allocate() + the username write for one batch of one district."""
    _setup_django()
    from schoolgate.accounts.allocation import requests_from
    from schoolgate.accounts.naming import compile_scheme
    from schoolgate.core.models import District
    from schoolgate.people.models import Person

    district = District.objects.get(slug=slug)
    scheme = compile_scheme(SCHEME)
    started = time.perf_counter()
    requests = requests_from(Person.objects.filter(district=district, sis_code__startswith=BATCHES[batch]))
    read_seconds = time.perf_counter() - started

    tries = [
        _allocate_once(district, requests, scheme, keep=attempt == REPEATS)
        for attempt in range(1, REPEATS + 1)
    ]
    best = min(tries, key=lambda t: t["allocate_seconds"] + t["write_seconds"])
    return {
        **best,
        "read_seconds": round(read_seconds, 3),
        "tries": [t["allocate_seconds"] + t["write_seconds"] for t in tries],
    }


def _allocate_once(district, requests: list, scheme, *, keep: bool) -> dict:
    """allocate() + the write in one transaction, committed only when `keep` (earlier tries roll back)."""
    from django.db import connection, transaction

    from schoolgate.accounts.allocation import allocate
    from schoolgate.accounts.models import Account
    from schoolgate.accounts.usernames import username_key
    from schoolgate.core import sql

    statements, scan_seconds = 0, 0.0

    def count(execute, sql_text, params, many, context):
        nonlocal statements, scan_seconds
        statements += 1
        began = time.perf_counter()
        try:
            return execute(sql_text, params, many, context)
        finally:
            if "MAX(CASE" in sql_text:  # allocation._first_free_numbers
                scan_seconds += time.perf_counter() - began

    with transaction.atomic():
        started = time.perf_counter()
        with connection.execute_wrapper(count):
            allocation = allocate(district, requests, scheme=scheme, max_length=MAX_LENGTH)
        allocated = time.perf_counter()
        frame = pl.DataFrame(
            {
                "person_id": list(allocation.usernames),
                "username": list(allocation.usernames.values()),
                "username_key": [username_key(u) for u in allocation.usernames.values()],
            },
            schema={"person_id": pl.Int64, "username": pl.Utf8, "username_key": pl.Utf8},
        )
        account, names = sql.table(Account), "bench_usernames_new"
        with connection.cursor() as cursor:
            sql.create_temp_table(
                cursor,
                names,
                "person_id BIGINT PRIMARY KEY, username VARCHAR(150), username_key VARCHAR(150)",
            )
            sql.load_frame(cursor, names, frame)
            cursor.execute(
                f"""UPDATE {account} SET username = n.username, username_key = n.username_key
                    FROM {names} n WHERE {account}.person_id = n.person_id AND {account}.district_id = %s""",
                [district.pk],
            )
            updated = cursor.rowcount
            sql.drop_temp_table(cursor, names)
        written = time.perf_counter()
        if updated != len(allocation.usernames):
            raise SystemExit(f"updated {updated} accounts for {len(allocation.usernames)} usernames")
        if not keep:
            transaction.set_rollback(True)
    return {
        "usernames": len(allocation.usernames),
        "failures": len(allocation.failures),
        "allocate_seconds": round(allocated - started, 3),
        "write_seconds": round(written - allocated, 3),
        "allocate_queries": statements,
        "scan_seconds": round(scan_seconds, 3),
        "queries": statements + WRITE_STATEMENTS,
        "stems": allocation.stems,
        "new_stems": allocation.new_stems,
        "rounds": allocation.rounds,
        "skipped": allocation.skipped,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Child steps of the usernames benchmark (run by bench/run.py)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    seed_parser = commands.add_parser("seed")
    seed_parser.add_argument("--existing", type=int, required=True)
    seed_parser.add_argument("--new", type=int, required=True)
    seed_parser.add_argument("--seed", type=int, required=True)
    allocate_parser = commands.add_parser("allocate")
    allocate_parser.add_argument("district")
    allocate_parser.add_argument("batch", choices=BATCHES)
    args = parser.parse_args(argv)
    if args.command == "seed":
        result = seed(args.existing, args.new, args.seed)
    else:
        result = allocate_batch(args.district, args.batch)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
