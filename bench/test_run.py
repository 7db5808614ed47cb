"""Checks of the benchmark runner that do not need the real CLI: verdicts and report formatting, per-child
peak memory, P, database creation, and a whole `sync` run against a stand-in `schoolgate` command.

    .venv/bin/pytest -p no:django bench/test_run.py -q
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from generate import generate_set
from harness import (
    PG_ADMIN_URL,
    BenchFailure,
    Context,
    fresh_postgres,
    machine_info,
    measure_parse,
    parse_json_output,
    run_child,
)
from report import MET, NO_TARGET, NOT_MET, BenchResult, Step, markdown_section, table_rows
from run import append_result
from sync_bench import run_sync

MACHINE = {
    "cores": "2",
    "cpu": "Test CPU",
    "ram": "4.0 GiB",
    "os": "Linux",
    "python": "3.11",
    "polars": "2.1",
}


def result_with(*steps: Step, database: str = "postgres", targets_apply_to: str | None = None) -> BenchResult:
    return BenchResult("sync", database, 1_000_000, list(steps), ["a fact"], "15.2", targets_apply_to)


def test_verdicts_are_computed_from_the_figures():
    fast = Step("initial import", 9.9, parse_seconds=1.0, max_ratio=10, peak_rss_mib=100, max_rss_mib=2048)
    slow = Step("no-change re-sync", 5.1, parse_seconds=1.0, max_ratio=5, peak_rss_mib=2049, max_rss_mib=2048)
    free = Step(
        "1% churn re-sync", 30.0, parse_seconds=1.0, max_ratio=None, peak_rss_mib=10, max_rss_mib=2048
    )
    assert (fast.time_verdict, fast.memory_verdict) == (MET, MET)
    assert (slow.time_verdict, slow.memory_verdict) == (NOT_MET, NOT_MET)
    assert free.time_verdict == NO_TARGET
    assert not result_with(fast, slow).all_met
    assert result_with(fast, free).all_met


def test_markdown_section_says_not_met_and_the_command():
    slow = Step("no-change re-sync", 12.0, parse_seconds=2.0, max_ratio=5, peak_rss_mib=900, max_rss_mib=2048)
    text = markdown_section(
        result_with(slow),
        datetime(2025, 1, 2, 3, 4, tzinfo=UTC),
        ".venv/bin/python bench/run.py --write",
        {**MACHINE, "git": "abc123"},
    )
    assert text.startswith("## 2025-01-02 03:04 UTC — sync — PostgreSQL, 1,000,000 students")
    assert "- Command: `.venv/bin/python bench/run.py --write`" in text
    assert "2 cores (Test CPU), 4.0 GiB RAM" in text
    assert "PostgreSQL 15.2" in text
    assert "| no-change re-sync | 12.00 | 2.00 | 6.0 | ≤ 5x P | NOT MET | 900 | met (≤ 2048) |" in text
    assert "NOT MET in this run" in text


def test_indicative_runs_are_labelled():
    step = Step("initial import", 1.0, parse_seconds=1.0, max_ratio=10, peak_rss_mib=1, max_rss_mib=2048)
    result = result_with(step, database="sqlite", targets_apply_to="PostgreSQL at 1,000,000 students")
    text = markdown_section(result, datetime.now(UTC), "cmd", {**MACHINE, "git": "x"})
    assert "indicative only" in text
    assert table_rows(result)[0][5] == MET


def test_append_result_keeps_what_is_there(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\nintro")
    append_result("## section\n", path)
    assert path.read_text() == "# Benchmarks\n\nintro\n\n## section\n"


def test_parse_json_output():
    assert parse_json_output('{"status": "applied"}\n') == {"status": "applied"}
    assert parse_json_output('Applying…\n{"status": "held"}\n')["status"] == "held"
    with pytest.raises(BenchFailure):
        parse_json_output("Traceback: boom")


def test_peak_rss_is_per_child(tmp_path):
    touch_300_mib = "b = bytearray(300 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096])"
    big = run_child([sys.executable, "-c", touch_300_mib], {}, tmp_path, "big")
    ballast = bytearray(400 * 1024 * 1024)  # the runner is big (it parsed the set for P)…
    ballast[::4096] = b"x" * len(ballast[::4096])
    small = run_child([sys.executable, "-c", "pass"], {}, tmp_path, "small")
    del ballast
    assert big.returncode == small.returncode == 0
    assert big.peak_rss_mib > 290
    # …yet a small child reports its own size: neither the runner's nor the largest child's so far.
    assert small.peak_rss_mib < 100
    failed = run_child([sys.executable, "-c", "import sys; sys.exit(3)"], {}, tmp_path, "failed")
    assert failed.returncode == 3


def test_measure_parse(tmp_path):
    generate_set(tmp_path, 200, seed=1)
    assert 0 < measure_parse(tmp_path) < 5


def test_machine_info_has_what_the_report_needs():
    info = machine_info()
    assert {"cores", "cpu", "ram", "os", "python", "polars", "git"} <= set(info)
    assert info["ram"].endswith("GiB")


def _postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2):
            return True
    except Exception:
        return False


@pytest.mark.skipif(not _postgres_available(), reason="no PostgreSQL on 127.0.0.1:5432")
def test_fresh_postgres_creates_an_empty_database():
    import psycopg

    name = "schoolgate_bench_selftest"
    first = fresh_postgres(name=name)
    url = first.env["SCHOOLGATE_DATABASE_URL"]
    assert url == f"postgres://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE leftover (id int)")
    fresh_postgres(name=name)  # drops and recreates, even with a session open elsewhere
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('leftover')").fetchone()[0] is None
    assert first.server_version
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.mark.skipif(
    not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")), reason="no PostgreSQL server programs"
)
def test_private_postgres_runs_with_the_deployment_settings_and_is_removed():
    import tempfile

    import psycopg

    from pg_server import private_postgres

    parent = Path(tempfile.mkdtemp(prefix="sg-pg-"))
    parent.chmod(0o755)  # the server may run as the postgres user, which must reach its folder
    root = parent / "server"
    try:
        with private_postgres(root, port=5498) as url, psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SHOW shared_buffers").fetchone()[0] == "6GB"
            assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        assert not root.exists()
    finally:
        parent.rmdir()


FAKE_CLI = """\
#!{python}
# Stands in for `schoolgate`: checks the environment and arguments, reads the set, prints the JSON contract.
import json, os, sys
from pathlib import Path
import polars as pl

args = sys.argv[1:]
log = Path(os.environ["SCHOOLGATE_VAR_DIR"]) / "calls.jsonl"
with log.open("a") as f:
    f.write(json.dumps({{"args": args, "db": os.environ.get("SCHOOLGATE_DATABASE_URL")}}) + "\\n")
if args[0] == "migrate" or args[:2] == ["district", "add"]:
    sys.exit(0)
assert args[0] == "sync" and args[1] == "bench" and "--json" in args, args
users = pl.read_csv(Path(args[2]) / "users.csv", infer_schema=False)
status = os.environ.get("FAKE_STATUS", "applied")
print("some progress line")
report = {{"run": 1, "status": status, "counts": {{"users": users.height}}, "errors": [], "warnings": []}}
print(json.dumps(report))
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
"""


def _fake_cli(tmp_path: Path) -> Path:
    cli = tmp_path / "schoolgate"
    cli.write_text(FAKE_CLI.format(python=sys.executable))
    cli.chmod(0o755)
    return cli


def test_sync_benchmark_end_to_end_with_a_stand_in_cli(tmp_path):
    ctx = Context(
        database="sqlite",
        students=300,
        seed=5,
        scratch=tmp_path / "scratch",
        pg_admin_url=PG_ADMIN_URL,
        cli=_fake_cli(tmp_path),
    )
    result = run_sync(ctx)
    names = [s.name for s in result.steps]
    assert names == [
        "parse (P), base set",
        "parse (P), churn set",
        "initial import",
        "no-change re-sync, the same files",
        "no-change re-sync, re-exported (rows in another order)",
        "no-change re-sync, re-exported (every field quoted)",
        "1% churn re-sync",
    ]
    initial, same, reexported, requoted, churn = result.steps[2:]
    assert [s.max_ratio for s in (initial, same, reexported, requoted, churn)] == [10.0, 5.0, 5.0, 5.0, None]
    assert initial.counts == reexported.counts == requoted.counts == {"users": 300 + 600 + 25}
    assert all(s.peak_rss_mib and s.peak_rss_mib > 10 for s in result.steps[2:])
    assert result.targets_apply_to == "PostgreSQL at 1,000,000 students"
    calls = [
        json.loads(line) for line in (tmp_path / "scratch" / "var" / "calls.jsonl").read_text().splitlines()
    ]
    assert [c["args"][0] for c in calls] == ["migrate", "district", "sync", "sync", "sync", "sync", "sync"]
    assert [Path(c["args"][2]).name for c in calls[2:]] == ["base", "base", "reexport", "requoted", "churn"]
    assert calls[1]["args"] == ["district", "add", "bench", "Bench District"]
    assert calls[-1]["args"][-2:] == ["--json", "--confirm"]
    assert all(c["db"] is None for c in calls)  # SQLite: no database URL leaks in from the environment
    assert not (tmp_path / "scratch" / "data").exists()  # generated sets removed unless --keep-data


def test_sync_benchmark_stops_when_a_sync_is_not_applied(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_STATUS", "held")
    monkeypatch.setenv("FAKE_EXIT", "3")
    ctx = Context(
        database="sqlite",
        students=50,
        seed=5,
        scratch=tmp_path / "scratch",
        pg_admin_url=PG_ADMIN_URL,
        cli=_fake_cli(tmp_path),
    )
    with pytest.raises(BenchFailure, match=r"status is 'held' \(exit code 3\)"):
        run_sync(ctx)


def test_sync_benchmark_needs_the_cli(tmp_path):
    ctx = Context(
        database="sqlite",
        students=50,
        seed=5,
        scratch=tmp_path,
        pg_admin_url=PG_ADMIN_URL,
        cli=tmp_path / "missing",
    )
    with pytest.raises(BenchFailure, match="not found"):
        run_sync(ctx)


def test_children_choose_their_own_allocator_settings(tmp_path):
    """Importing polars writes its allocator defaults into the runner's environment; a child must not inherit
    them (the `schoolgate` command sets its own), but keeps what the runner itself was started with."""
    bench = Path(__file__).resolve().parent
    show = (
        f"import sys; sys.path.insert(0, {str(bench)!r}); import polars, pathlib; "
        "from harness import cli_env, Database; "
        "print(repr(cli_env(Database(kind='sqlite'), pathlib.Path('.')).get('_RJEM_MALLOC_CONF')))"
    )
    base = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}

    def child_setting(**extra: str) -> str:
        run = subprocess.run(
            [sys.executable, "-c", show], env={**base, **extra}, capture_output=True, text=True, check=True
        )
        return run.stdout.strip()

    assert child_setting() == "None", "polars' own defaults are not passed on"
    assert child_setting(_RJEM_MALLOC_CONF="narenas:2") == "'narenas:2'", "the runner's own setting is"
