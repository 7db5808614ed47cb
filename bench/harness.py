"""What every benchmark needs: timing child processes with their peak memory, the parse baseline P, fresh
databases, and a description of the machine.

Peak memory is read per child with `os.wait4`, which returns that one process's resource usage; the
alternative, `getrusage(RUSAGE_CHILDREN)`, reports the maximum over every child reaped so far, so a small
step after a big one would inherit the big one's figure. The wait happens in a small launcher process
(spawn_measured.py), because a child's figure also starts from its launcher's own size. The figure covers
the `schoolgate` process only: the PostgreSQL server's own memory is not in it.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRATCH_ROOT = REPO_ROOT / "var" / "bench"
CLI = REPO_ROOT / ".venv" / "bin" / "schoolgate"
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
BENCH_DB_NAME = "schoolgate_bench"
SPAWN_MEASURED = Path(__file__).resolve().parent / "spawn_measured.py"


@dataclass(frozen=True)
class Context:
    """What the runner hands every benchmark."""

    database: str  # "postgres" | "sqlite"
    students: int | None  # None: the benchmark's default for the database
    seed: int
    scratch: Path  # a folder of its own under var/bench/
    pg_admin_url: str
    cli: Path = CLI  # the `schoolgate` console script under test
    keep_data: bool = False


class BenchFailure(RuntimeError):
    """A step did not do what the benchmark needs; the run stops and writes nothing."""


@dataclass(frozen=True)
class ChildResult:
    """One finished child process."""

    argv: list[str]
    seconds: float
    peak_rss_mib: float
    returncode: int
    stdout: str
    stderr: str
    log_dir: Path


@dataclass
class Database:
    """Where the CLI under test keeps its data, as the environment it needs."""

    kind: str  # "postgres" | "sqlite"
    env: dict[str, str] = field(default_factory=dict)
    server_version: str | None = None


def run_child(
    argv: list[str], env: dict[str, str], log_dir: Path, name: str, cwd: Path = REPO_ROOT
) -> ChildResult:
    """Run `argv` to completion: its wall time and its own peak RSS (see spawn_measured.py for why a
    launcher), with stdout and stderr kept in `log_dir`.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / f"{name}.stdout", log_dir / f"{name}.stderr"
    report_path = log_dir / f"{name}.measure.json"
    report_path.unlink(missing_ok=True)
    launcher = [sys.executable, "-S", str(SPAWN_MEASURED), str(report_path)]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        launched = subprocess.run([*launcher, *argv], stdout=out, stderr=err, env=env, cwd=cwd, check=False)
    if launched.returncode != 0 or not report_path.exists():
        detail = err_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise BenchFailure(f"could not launch {argv[0]} (see {err_path}):\n{detail}")
    measured = json.loads(report_path.read_text(encoding="utf-8"))
    return ChildResult(
        argv=argv,
        seconds=measured["seconds"],
        peak_rss_mib=maxrss_mib(measured["maxrss"]),
        returncode=measured["returncode"],
        stdout=out_path.read_text(encoding="utf-8", errors="replace"),
        stderr=err_path.read_text(encoding="utf-8", errors="replace"),
        log_dir=log_dir,
    )


def maxrss_mib(ru_maxrss: int) -> float:
    """ru_maxrss in MiB: Linux reports KiB, macOS bytes."""
    return ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else ru_maxrss / 1024


def check_child(result: ChildResult, what: str) -> None:
    """Raise with the tail of stderr when a child failed."""
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise BenchFailure(
            f"{what} failed with exit code {result.returncode}: {' '.join(result.argv)}\n"
            f"(full output in {result.log_dir})\n{tail}"
        )


def parse_json_output(stdout: str) -> dict:
    """The JSON object a command printed: the whole output, or else its last line that is one."""
    text = stdout.strip()
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
        for line in reversed(text.splitlines()):
            line = line.strip()
            if line.startswith("{"):
                try:
                    value = json.loads(line)
                    break
                except json.JSONDecodeError:
                    continue
    if not isinstance(value, dict):
        raise BenchFailure(f"expected a JSON object on stdout, got: {text[-500:]!r}")
    return value


def measure_parse(folder: Path, repeats: int = 3) -> float:
    """P: the best of `repeats` times polars takes merely to parse users.csv and orgs.csv, all as strings."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        users = pl.read_csv(folder / "users.csv", infer_schema=False)
        orgs = pl.read_csv(folder / "orgs.csv", infer_schema=False)
        best = min(best, time.perf_counter() - started)
        del users, orgs
    return best


def fresh_postgres(admin_url: str = PG_ADMIN_URL, name: str = BENCH_DB_NAME) -> Database:
    """Drop and create database `name`; the environment that points the CLI at it."""
    # Imported here so SQLite-only runs work without a PostgreSQL driver.
    import psycopg

    if not name.isidentifier():
        raise ValueError(f"unsafe database name {name!r}")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        # FORCE ends sessions a previous, interrupted run may have left open.
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        version = conn.execute("SHOW server_version").fetchone()[0]
    base, _, _ = admin_url.rpartition("/")
    env = {"SCHOOLGATE_DATABASE_URL": f"{base}/{name}"}
    return Database(kind="postgres", env=env, server_version=version)


def fresh_sqlite(var_dir: Path) -> Database:
    """An empty var folder, so the CLI creates a new embedded SQLite database in it."""
    if var_dir.exists():
        shutil.rmtree(var_dir)
    var_dir.mkdir(parents=True)
    return Database(kind="sqlite", env={"SCHOOLGATE_VAR_DIR": str(var_dir)})


def cli_env(database: Database, var_dir: Path) -> dict[str, str]:
    """The child environment: ours, minus any database setting we did not choose, plus the database's.

    Also minus what importing polars wrote into ours: polars sets `_RJEM_MALLOC_CONF` (its allocator's
    defaults) in the environment of the process that imports it, and a child would inherit that instead of
    choosing its own — `schoolgate` returns freed memory at once unless told otherwise, which a shell that
    never imported polars leaves it to do. The allocator setting this runner was started with (if any) is
    passed on unchanged."""
    env = {k: v for k, v in os.environ.items() if k not in {"SCHOOLGATE_DATABASE_URL", "SCHOOLGATE_VAR_DIR"}}
    env.pop(ALLOCATOR_SETTING, None)
    if (started_with := started_environment().get(ALLOCATOR_SETTING)) is not None:
        env[ALLOCATOR_SETTING] = started_with
    # The CLI keeps its secret key and files in the var folder; keep them out of the developer's var/.
    env["SCHOOLGATE_VAR_DIR"] = str(var_dir)
    env.update(database.env)
    return env


ALLOCATOR_SETTING = "_RJEM_MALLOC_CONF"


def started_environment() -> dict[str, str]:
    """The environment this process was started with, before anything it imported changed it (Linux:
    /proc/self/environ; elsewhere the current one)."""
    try:
        raw = Path("/proc/self/environ").read_bytes()
    except OSError:
        return dict(os.environ)
    pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
    return {key.decode(errors="replace"): value.decode(errors="replace") for key, _, value in pairs}


def machine_info() -> dict[str, str]:
    """Cores, CPU, RAM, OS, Python and polars versions, and the code's git revision."""
    info = {
        "cores": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "ram": _ram(),
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "polars": pl.__version__,
        "git": _git_revision(),
    }
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def _git_revision() -> str:
    """Read-only: the commit and whether the tree has uncommitted changes."""

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False)

    try:
        head = git("rev-parse", "--short", "HEAD")
        # --no-optional-locks: never refresh the index, so a concurrent git command is not disturbed.
        dirty = git("--no-optional-locks", "status", "--porcelain")
    except OSError:
        return "unknown"
    revision = head.stdout.strip() if head.returncode == 0 else "no commit yet"
    return revision + (" with uncommitted changes" if dirty.stdout.strip() else "")
