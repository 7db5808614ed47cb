"""A sync killed with SIGKILL part-way through leaves the district exactly as it was, and the next run
applies cleanly. Runs against a real database in separate processes: the embedded SQLite file, and
PostgreSQL when SCHOOLGATE_DATABASE_URL points at one."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.builders import write_oneroster

ROOT = Path(__file__).resolve().parents[2]
DRIVERS = Path(__file__).resolve().parent / "drivers"
ORGS = [{"sourcedId": "sch", "type": "school"}]


def users(n: int, leaving: int = 0) -> list[dict]:
    rows = []
    for i in range(leaving, n):
        rows += [
            {"sourcedId": f"s{i}", "role": "student", "orgSourcedIds": "sch", "agentSourcedIds": f"p{i}"},
            {"sourcedId": f"p{i}", "role": "parent", "orgSourcedIds": "sch"},
        ]
    return rows


@pytest.mark.parametrize("kill_at", ["mirror", "rules", "apply"])
def test_sigkill_mid_sync_leaves_the_district_as_it_was(database, tmp_path, kill_at):
    run = database
    assert run(sys.executable, "-m", "schoolgate", "district", "add", "d", "District").returncode == 0
    first = write_oneroster(tmp_path / "first", users=users(60), orgs=ORGS)
    second = write_oneroster(tmp_path / "second", users=users(80, leaving=10), orgs=ORGS)
    applied = run(sys.executable, "-m", "schoolgate", "sync", "d", str(first), "--json")
    assert json.loads(applied.stdout)["status"] == "applied", applied.stderr
    provisioned = run(sys.executable, "-m", "schoolgate", "provision", "d", "--all", "--json")
    assert provisioned.returncode == 0
    before = run(sys.executable, str(DRIVERS / "dump_state.py"), "d").stdout

    killed = run(sys.executable, str(DRIVERS / "kill_during_sync.py"), "d", str(second), kill_at)
    assert killed.returncode == -9, killed.stderr  # SIGKILL, not a clean exit

    assert run(sys.executable, str(DRIVERS / "dump_state.py"), "d").stdout == before
    rerun = run(sys.executable, "-m", "schoolgate", "sync", "d", str(second), "--json", "--confirm")
    doc = json.loads(rerun.stdout)
    assert doc["status"] == "applied", rerun.stderr
    assert doc["counts"]["people"] == {"added": 40, "updated": 0, "removed": 20}
