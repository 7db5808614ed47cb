"""A bulk revoke job SIGKILLed after its first committed batch (500 accounts): nothing half-done, nothing lost. The
committed batch stays revoked (sessions ended, audited), the rest are untouched until the job is resumed in
the worker, and then every account is revoked exactly once with the audit log agreeing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.builders import write_oneroster

ROOT = Path(__file__).resolve().parents[2]
DRIVERS = Path(__file__).resolve().parent / "drivers"
SYNC_DRIVERS = ROOT / "tests" / "sync" / "drivers"
ORGS = [{"sourcedId": "sch", "type": "school"}]


def families(n: int, leaving: int = 0) -> list[dict]:
    rows = []
    for i in range(leaving, n):
        rows += [
            {"sourcedId": f"s{i}", "role": "student", "orgSourcedIds": "sch", "agentSourcedIds": f"p{i}"},
            {"sourcedId": f"p{i}", "role": "parent", "orgSourcedIds": "sch", "email": f"p{i}@example.org"},
        ]
    return rows


def test_a_bulk_revoke_killed_mid_run_resumes_and_revokes_each_account_once(database, tmp_path):
    run = database
    assert run.schoolgate("district", "add", "d", "District").returncode == 0
    assert run.schoolgate("district", "set", "d", "--guard-share", "1").returncode == 0
    assert (
        run.schoolgate(
            "sync", "d", str(write_oneroster(tmp_path / "a", users=families(310), orgs=ORGS))
        ).returncode
        == 0
    )
    assert run.schoolgate("provision", "d", "--all").returncode == 0
    assert (
        run.schoolgate(
            "sync", "d", str(write_oneroster(tmp_path / "b", users=families(310, 300), orgs=ORGS))
        ).returncode
        == 0
    )

    started = run(sys.executable, str(DRIVERS / "start_bulk_revoke.py"), "d")
    assert started.returncode == 0, started.stderr
    job_id = started.stdout.strip()
    killed = run(sys.executable, str(DRIVERS / "kill_during_job.py"), job_id)
    assert killed.returncode == -9, killed.stderr

    midway = json.loads(run.schoolgate("jobs", "d", "--id", job_id, "--json").stdout)["job"]
    revoked = json.loads(run.schoolgate("accounts", "d", "--state", "revoked", "--json").stdout)["accounts"]
    assert midway["done"] == 500 and len(revoked) == 500, "exactly the committed batch, no partial one"
    assert json.loads(run(sys.executable, str(SYNC_DRIVERS / "check_audit.py"), "d").stdout) == []

    # The dead worker's heartbeat times out (HEARTBEAT_TIMEOUT); until then its job counts as running.
    assert run(sys.executable, str(DRIVERS / "worker_died.py"), job_id).returncode == 0
    assert run.schoolgate("jobs", "d", "--resume", job_id).returncode == 0
    worker = run.schoolgate("db_worker", "--batch", "--queue-name", "*", "--no-startup-delay")
    assert worker.returncode == 0, worker.stderr
    done = json.loads(run.schoolgate("jobs", "d", "--id", job_id, "--json").stdout)["job"]
    assert (done["status"], done["done"], done["failed"]) == ("done", 600, 0)
    state = json.loads(run(sys.executable, str(SYNC_DRIVERS / "dump_state.py"), "d").stdout)
    leavers = [row for row in state["accounts"] if int(row[0][1:]) < 300]
    assert len(leavers) == 600 and {row[1] for row in leavers} == {"revoked"}
    assert {row[4] for row in leavers} == {1}, "credentials_version moved on once: sessions ended, once"
    assert json.loads(run(sys.executable, str(SYNC_DRIVERS / "check_audit.py"), "d").stdout) == []
