"""The `sync` benchmark: initial import, two no-change re-syncs and a 1% churn re-sync, each beside P.

One run generates a district of N students and the next day's churned set, measures P (polars merely
parsing the same files), then on a fresh database runs the project's CLI as a user would:

    schoolgate migrate
    schoolgate district add bench "Bench District"
    schoolgate sync bench BASE --json               # initial import: target ≤ 10x P
    schoolgate sync bench BASE --json               # no-change re-sync, the same files: target ≤ 5x P
    schoolgate sync bench REEXPORT --json           # no-change re-sync, rows in another order: ≤ 5x P
    schoolgate sync bench REQUOTED --json           # no-change re-sync, every field quoted: ≤ 5x P
    schoolgate sync bench CHURN --json --confirm    # 1% churn: no target, ratio reported

and every sync's own peak RSS must stay ≤ 2 GiB. The targets are the issue's, for PostgreSQL at 1,000,000
students; other runs are reported against them as indicative figures.

The same files sent again are recognised by their content and not read (`sync/resent.py`), and so are the
same rows in another order: REEXPORT is BASE with the rows of users.csv in reverse order, as an export with no
fixed row order writes it. REQUOTED is BASE written by another CSV writer — every field in double quotes, so
every line has other bytes and the same values — which no key recognises: that step measures reading the set
and comparing every person's fingerprint.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
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
    measure_parse,
    parse_json_output,
    run_child,
)
from report import BenchResult, Step

DEFAULT_STUDENTS = {"postgres": 1_000_000, "sqlite": 100_000}
TARGET_DATABASE, TARGET_STUDENTS = "postgres", 1_000_000
INITIAL_MAX_RATIO = 10.0
NO_CHANGE_MAX_RATIO = 5.0
PEAK_RSS_MAX_MIB = 2048.0
CHURN = 0.01
DISTRICT_CODE, DISTRICT_NAME = "bench", "Bench District"
BENCH_DIR = Path(__file__).resolve().parent


def run_sync(ctx: Context) -> BenchResult:
    """Generate, measure P, then time the three syncs on a fresh database."""
    n = ctx.students or DEFAULT_STUDENTS[ctx.database]
    if not ctx.cli.exists():
        raise BenchFailure(f"{ctx.cli} not found: install the project into .venv first (pip install -e .)")
    logs = ctx.scratch / "logs"
    data = ctx.scratch / "data"
    base, churn, reexport, requoted = data / "base", data / "churn", data / "reexport", data / "requoted"
    if data.exists():
        shutil.rmtree(data)

    generate = [sys.executable, str(BENCH_DIR / "generate.py")]
    seed = ["--seed", str(ctx.seed)]
    gen_base = _run_ok([*generate, str(base), "--students", str(n), *seed], logs, "generate")
    churn_args = ["--churn-from", str(base), "--churn", str(CHURN)]
    gen_churn = _run_ok([*generate, str(churn), *churn_args, *seed], logs, "generate-churn")
    # A generator bug must not pass for a slow or failing sync.
    _run_ok([sys.executable, str(BENCH_DIR / "oneroster_set.py"), str(base), str(churn)], logs, "check-sets")
    base_summary, churn_summary = parse_json_output(gen_base.stdout), parse_json_output(gen_churn.stdout)
    _reexport(base, reexport)
    _requote(base, requoted)

    p_base, p_churn = measure_parse(base), measure_parse(churn)

    var_dir = ctx.scratch / "var"
    if ctx.database == "postgres":
        database = fresh_postgres(ctx.pg_admin_url)
        shutil.rmtree(var_dir, ignore_errors=True)
        var_dir.mkdir(parents=True)
    else:
        database = fresh_sqlite(var_dir)
    env = cli_env(database, var_dir)
    cli = str(ctx.cli)
    migrate = _run_ok([cli, "migrate"], logs, "migrate", env)
    add = _run_ok([cli, "district", "add", DISTRICT_CODE, DISTRICT_NAME], logs, "district-add", env)

    syncs = [
        ("initial import", "sync-initial", [str(base), "--json"], p_base, INITIAL_MAX_RATIO),
        (
            "no-change re-sync, the same files",
            "sync-no-change",
            [str(base), "--json"],
            p_base,
            NO_CHANGE_MAX_RATIO,
        ),
        (
            "no-change re-sync, re-exported (rows in another order)",
            "sync-reexported",
            [str(reexport), "--json"],
            p_base,
            NO_CHANGE_MAX_RATIO,
        ),
        (
            "no-change re-sync, re-exported (every field quoted)",
            "sync-requoted",
            [str(requoted), "--json"],
            p_base,
            NO_CHANGE_MAX_RATIO,
        ),
        (f"{CHURN:.0%} churn re-sync", "sync-churn", [str(churn), "--json", "--confirm"], p_churn, None),
    ]
    steps = [
        Step("parse (P), base set", p_base, p_base, baseline=True),
        Step("parse (P), churn set", p_churn, p_churn, baseline=True),
    ]
    durations: dict[str, dict] = {}
    for label, log_name, args, p, max_ratio in syncs:
        result = run_child([cli, "sync", DISTRICT_CODE, *args], env, logs, log_name)
        report = _applied(result, label)
        if report.get("durations"):
            durations[label] = report["durations"]
        steps.append(
            Step(
                name=label,
                seconds=result.seconds,
                parse_seconds=p,
                max_ratio=max_ratio,
                peak_rss_mib=result.peak_rss_mib,
                max_rss_mib=PEAK_RSS_MAX_MIB,
                counts=report.get("counts"),
            )
        )

    if not ctx.keep_data:
        shutil.rmtree(data, ignore_errors=True)
    facts = [
        _data_fact(ctx.seed, base_summary, churn_summary),
        "P = polars `read_csv(..., infer_schema=False)` of users.csv + orgs.csv of the files the step reads, "
        "best of 3, in the runner process; a sync's seconds are the wall time of the whole `schoolgate sync` "
        "process (interpreter and Django start-up included).",
        "Peak RSS = the `schoolgate` process's own maximum resident set (os.wait4); the database server's "
        "memory is not included.",
        f"Untimed set-up: generating {gen_base.seconds:.1f} s + {gen_churn.seconds:.1f} s, "
        f"migrate {migrate.seconds:.1f} s, district add {add.seconds:.1f} s.",
        *[f"{s.name} counts: `{_compact(s.counts)}`" for s in steps if s.counts is not None],
        *[
            f"{label}, seconds per step as the run recorded them: "
            + ", ".join(f"{step} {seconds:.2f}" for step, seconds in steps_seconds.items())
            for label, steps_seconds in durations.items()
        ],
    ]
    on_target = ctx.database == TARGET_DATABASE and n >= TARGET_STUDENTS
    return BenchResult(
        benchmark="sync",
        database=ctx.database,
        n_students=n,
        steps=steps,
        facts=facts,
        database_version=database.server_version,
        targets_apply_to=None if on_target else f"PostgreSQL at {TARGET_STUDENTS:,} students",
    )


def _reexport(base: Path, target: Path) -> None:
    """BASE as another export of the same data would write it: users.csv rows in reverse order (untimed)."""
    shutil.copytree(base, target)
    with (base / "users.csv").open("rb") as source:
        header, *rows = source.readlines()
    with (target / "users.csv").open("wb") as out:
        out.write(header)
        out.writelines(reversed(rows))


def _requote(base: Path, target: Path) -> None:
    """BASE as another CSV writer would write it: every field of users.csv, the header's too, in double
    quotes (untimed). An empty field becomes "", which the importer reads as empty like an unquoted one, so
    the values are exactly BASE's."""
    shutil.copytree(base, target)
    users = pl.read_csv(base / "users.csv", infer_schema=False)
    users.write_csv(target / "users.csv", quote_style="always")


def _run_ok(argv: list[str], logs: Path, name: str, env: dict[str, str] | None = None) -> ChildResult:
    result = run_child(argv, env if env is not None else dict(os.environ), logs, name)
    check_child(result, name)
    return result


def _applied(result: ChildResult, label: str) -> dict:
    """The sync's JSON report; anything but status "applied" and exit code 0 stops the benchmark.

    The report is read before the exit code is judged: a rejected (exit 1) or held (exit 3) run says why in
    its JSON, which is more use than a traceback.
    """
    try:
        report = parse_json_output(result.stdout)
    except BenchFailure:
        check_child(result, label)
        raise
    if report.get("status") != "applied" or result.returncode != 0:
        raise BenchFailure(
            f"{label}: sync status is {report.get('status')!r} (exit code {result.returncode}), expected "
            f"'applied'; errors: {str(report.get('errors'))[:1000]}; "
            f"warnings: {str(report.get('warnings'))[:1000]} "
            f"(output in {result.log_dir})"
        )
    return report


def _data_fact(seed: int, base: dict, churn: dict) -> str:
    return (
        f"Data (bench/generate.py, seed {seed}): {base['students']:,} students, "
        f"{base['contacts']:,} contacts "
        f"({base['contacts_per_student']} per student, {base['links_per_student']} links per student), "
        f"{base['staff']:,} staff, {base['schools']:,} schools = {base['users_rows']:,} users rows. "
        f"Churn set: {churn['students_left']:,} students left (taking {churn['contacts_left']:,} contacts), "
        f"{churn['students_joined']:,} joined in {churn['families_joined']:,} families "
        f"({churn['contacts_joined']:,} contacts), {churn['contacts_email_changed']:,} e-mail and "
        f"{churn['contacts_phone_changed']:,} phone changes, "
        f"{churn['students_disabled']:,} students disabled."
    )


def _compact(counts: dict | None) -> str:
    return json.dumps(counts, separators=(", ", ": "), sort_keys=True)
