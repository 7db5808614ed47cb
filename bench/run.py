"""Schoolgate's benchmark suite: one entry point over a registry of benchmarks.

    .venv/bin/python bench/run.py [--students N] [--db postgres|sqlite|both] [--only NAME] [--write]
                                  [--pg-server private|shared]

Each benchmark is a function in BENCHMARKS taking a `Context` (database, N, seed, a scratch folder under
var/bench/) and returning a `BenchResult` (steps with seconds, P, peak memory and targets). The runner prints
every result as a table and, with --write, appends a dated section to BENCHMARKS.md holding the machine, the
exact command and the table. A benchmark that fails stops with an error and writes nothing; a target that is
missed is reported as NOT MET, never hidden. PostgreSQL runs use a private server configured with
deploy/postgresql.conf (`pg_server.py`) unless `--pg-server shared` picks the one at --pg-admin-url.

To add a benchmark: write `def run_<name>(ctx: Context) -> BenchResult` in its own module and register it
below.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from bulk_revoke_bench import run_bulk_revoke
from console_bench import run_console
from generate import DEFAULT_SEED
from harness import CLI, PG_ADMIN_URL, REPO_ROOT, SCRATCH_ROOT, BenchFailure, Context, machine_info
from login_bench import run_login
from mail_bench import run_mail
from pg_server import CONFIG, private_postgres
from report import BenchResult, markdown_section, print_result
from sync_bench import run_sync
from usernames_bench import run_usernames

BENCHMARKS: dict[str, Callable[[Context], BenchResult]] = {
    "sync": run_sync,
    "mail": run_mail,
    "usernames": run_usernames,
    "console": run_console,
    "login": run_login,
    "bulk_revoke": run_bulk_revoke,
}

RESULTS_FILE = REPO_ROOT / "BENCHMARKS.md"


def append_result(section: str, path: Path = RESULTS_FILE) -> None:
    """Append a results section to BENCHMARKS.md, separated by a blank line."""
    existing = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if not existing.endswith("\n"):
        existing += "\n"
    path.write_text(existing + "\n" + section, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Schoolgate's benchmarks.")
    parser.add_argument(
        "--students", type=int, help="students in the generated district (default per database)"
    )
    parser.add_argument("--db", choices=["postgres", "sqlite", "both"], default="postgres")
    parser.add_argument("--only", choices=sorted(BENCHMARKS), help="run only this benchmark")
    parser.add_argument("--write", action="store_true", help="append the results to BENCHMARKS.md")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--pg-server",
        choices=["private", "shared"],
        default="private",
        help="PostgreSQL: a private server with deploy/postgresql.conf (default), or the one at --pg-admin-url",
    )
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL, help="the shared server (--pg-server shared)")
    parser.add_argument("--cli", type=Path, default=CLI, help="the schoolgate command to benchmark")
    parser.add_argument("--keep-data", action="store_true", help="keep the generated sets under var/bench/")
    args = parser.parse_args(argv)
    if args.students is not None and args.students < 1:
        parser.error("--students must be at least 1")

    command = shlex.join(sys.orig_argv) if argv is None else shlex.join(["bench/run.py", *argv])
    databases = ["postgres", "sqlite"] if args.db == "both" else [args.db]
    names = [args.only] if args.only else list(BENCHMARKS)
    machine = machine_info()
    with ExitStack() as servers:
        pg_admin_url, pg_fact = (
            args.pg_admin_url,
            f"PostgreSQL server: the one at {args.pg_admin_url}, as configured.",
        )
        if "postgres" in databases and args.pg_server == "private":
            try:
                pg_admin_url = servers.enter_context(private_postgres(SCRATCH_ROOT / "postgres-server"))
            except BenchFailure as failure:
                print(f"FAILED to start PostgreSQL\n{failure}", file=sys.stderr)
                return 1
            pg_fact = (
                f"PostgreSQL server: a private one started for this run with "
                f"{CONFIG.relative_to(REPO_ROOT)} (the deployment guide's settings)."
            )
        return _run_all(args, names, databases, machine, command, pg_admin_url, pg_fact)


def _run_all(
    args: argparse.Namespace,
    names: list[str],
    databases: list[str],
    machine: dict[str, str],
    command: str,
    pg_admin_url: str,
    pg_fact: str,
) -> int:
    failures = 0
    for name in names:
        for database in databases:
            ctx = Context(
                database=database,
                students=args.students,
                seed=args.seed,
                scratch=SCRATCH_ROOT / f"{name}-{database}",
                pg_admin_url=pg_admin_url,
                cli=args.cli,
                keep_data=args.keep_data,
            )
            print(f"running {name} on {database} …", file=sys.stderr, flush=True)
            try:
                result = BENCHMARKS[name](ctx)
            except BenchFailure as failure:
                print(f"{name} on {database}: FAILED\n{failure}", file=sys.stderr)
                failures += 1
                continue
            if database == "postgres":
                result.facts.append(pg_fact)
            print_result(result)
            if args.write:
                append_result(markdown_section(result, datetime.now(UTC), command, machine))
                print(f"appended to {RESULTS_FILE.relative_to(REPO_ROOT)}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
