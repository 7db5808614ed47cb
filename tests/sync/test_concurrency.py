"""Concurrency between real processes on a real database (the embedded SQLite file, and PostgreSQL when
SCHOOLGATE_DATABASE_URL points at one): two syncs of one district at once — the second waits for the first
and then finds nothing left to do — and a bulk revoke racing a sync that brings the leavers back, after which
every account took exactly one path and the audit log agrees with its state."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.builders import write_oneroster

DRIVERS = Path(__file__).resolve().parent / "drivers"
ORGS = [{"sourcedId": "sch", "type": "school"}]


def families(n: int, leaving: int = 0) -> list[dict]:
    rows = []
    for i in range(leaving, n):
        rows += [
            {"sourcedId": f"s{i}", "role": "student", "orgSourcedIds": "sch", "agentSourcedIds": f"p{i}"},
            {"sourcedId": f"p{i}", "role": "parent", "orgSourcedIds": "sch", "email": f"p{i}@example.org"},
        ]
    return rows


def finish(process) -> dict:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return json.loads(out)


def test_two_syncs_of_one_district_at_once(database, tmp_path):
    run = database
    assert run.schoolgate("district", "add", "d", "District").returncode == 0
    assert (
        run.schoolgate(
            "sync", "d", str(write_oneroster(tmp_path / "a", users=families(200), orgs=ORGS))
        ).returncode
        == 0
    )
    grown = write_oneroster(tmp_path / "b", users=families(400), orgs=ORGS)
    first = run.start(sys.executable, "-m", "schoolgate", "sync", "d", str(grown), "--json")
    second = run.start(sys.executable, "-m", "schoolgate", "sync", "d", str(grown), "--json")
    results = [finish(first), finish(second)]
    assert [r["status"] for r in results] == ["applied", "applied"]
    added = sorted(r["counts"]["people"]["added"] for r in results)
    assert added == [0, 400], "one run applied the change; the other waited, then found nothing to do"
    state = json.loads(run(sys.executable, str(DRIVERS / "dump_state.py"), "d").stdout)
    assert len(state["people"]) == 800 and len(state["accounts"]) == 800
    assert json.loads(run(sys.executable, str(DRIVERS / "check_audit.py"), "d").stdout) == []


def test_a_bulk_revoke_racing_a_sync_leaves_one_state_per_account(database, tmp_path):
    run = database
    assert run.schoolgate("district", "add", "d", "District").returncode == 0
    assert run.schoolgate("district", "set", "d", "--guard-share", "1").returncode == 0
    everyone = write_oneroster(tmp_path / "all", users=families(150), orgs=ORGS)
    assert run.schoolgate("sync", "d", str(everyone)).returncode == 0
    assert run.schoolgate("provision", "d", "--all").returncode == 0
    leavers = write_oneroster(tmp_path / "leave", users=families(150, leaving=50), orgs=ORGS)
    assert run.schoolgate("sync", "d", str(leavers)).returncode == 0  # 100 accounts now ready_to_revoke

    # The admin revokes every leaver while the next sync says they are back.
    revoke = run.start(sys.executable, "-m", "schoolgate", "revoke", "d", "--all-ready", "--json")
    back = run.start(sys.executable, "-m", "schoolgate", "sync", "d", str(everyone), "--json")
    revoked, synced = finish(revoke), finish(back)
    assert synced["status"] == "applied"
    state = json.loads(run(sys.executable, str(DRIVERS / "dump_state.py"), "d").stdout)
    leaver_states = {code: account_state for code, account_state, *_ in state["accounts"] if code[1:].isdigit()
                     and int(code[1:]) < 50}  # fmt: skip
    assert len(leaver_states) == 100
    # Any interleaving is correct as long as each account took one path: revoked (the revoke won; this sync
    # planned before it and the next one reinstates), ready_to_provision (revoked, then reinstated by the
    # sync), or invited (the sync restored it first, and the revoke found nothing ready).
    assert set(leaver_states.values()) <= {"revoked", "ready_to_provision", "invited"}, leaver_states
    if revoked["counts"]["revoked"] == 0:
        assert set(leaver_states.values()) == {"invited"}, "the sync went first: nothing was left to revoke"
    assert json.loads(run(sys.executable, str(DRIVERS / "check_audit.py"), "d").stdout) == []
