"""A private PostgreSQL server for the benchmarks, configured as the deployment guide says.

The machine's own PostgreSQL runs with the distribution's defaults (128 MB of shared buffers, a checkpoint
every 1 GB of WAL), which no production deployment of a large district would keep. `bench/run.py` therefore
starts a server of its own for PostgreSQL runs: `initdb` into the scratch folder, `deploy/postgresql.conf`
copied in and included as it is, listening on loopback only, stopped and removed afterwards. `--pg-server shared` measures
on the machine's server instead (as every run recorded before 2026-11-22 22:15 did).

initdb refuses to run as root; as root, the server runs as the `postgres` system user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import REPO_ROOT, BenchFailure

CONFIG = REPO_ROOT / "deploy" / "postgresql.conf"
PORT = 5499


def _bin_dir() -> Path:
    """The server programs' folder (Debian keeps them off PATH, under /usr/lib/postgresql/<major>/bin)."""
    try:
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        candidate = Path(found.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    except (OSError, subprocess.CalledProcessError):
        pass
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if not versions:
        raise BenchFailure("no PostgreSQL server programs (initdb) found; use --pg-server shared")
    return versions[-1].parent


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextmanager
def private_postgres(root: Path, port: int = PORT) -> Iterator[str]:
    """Start a fresh server under `root` with deploy/postgresql.conf; yield its admin URL; stop and remove it."""
    bin_dir = _bin_dir()
    data = root / "data"

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(_as_server_user(argv), capture_output=True, text=True)

    if (data / "postmaster.pid").exists():  # left running by a run that was killed: stop it first
        run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    made = run([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"])
    if made.returncode:
        raise BenchFailure(f"initdb failed: {made.stderr[-2000:]}")
    # A copy beside the server's own configuration: the server may run as the postgres user, who need not be
    # able to read this checkout (a clone in a private temporary folder, say).
    shutil.copyfile(CONFIG, data / "schoolgate.conf")
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"\ninclude 'schoolgate.conf'\nlisten_addresses = '127.0.0.1'\nport = {port}\n"
            f"unix_socket_directories = '{root}'\n"
        )
    started = run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "start"])
    if started.returncode:
        log = (
            (root / "server.log").read_text(errors="replace")[-2000:]
            if (root / "server.log").exists()
            else ""
        )
        raise BenchFailure(f"the private PostgreSQL server did not start: {started.stderr[-1000:]}\n{log}")
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)
