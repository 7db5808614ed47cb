"""The whole path with every part real and separate: Schoolgate's CLI and its worker (`schoolgate db_worker`)
in their own processes on a real database, scim2-server on loopback as the downstream. An account revoked at
the command line becomes inactive downstream, pushed by the running worker, and the delay is measured.

The delay is reported, not asserted against the target (targets live in bench/: see BENCHMARKS.md,
scim_push, 1,000 revocations); the test only bounds it so that a lost push fails instead of hanging.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tests.builders import write_oneroster
from tests.integrations.conftest import ORGS, TOKEN, family_rows

GIVE_UP_AFTER = 60.0  # seconds: far beyond the target, only so that a lost push fails the test


def _wait(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_a_revocation_reaches_the_downstream_through_the_running_worker(
    database, tmp_path, scim_server, record_property
):
    run = database
    assert run.schoolgate("district", "add", "d", "District").returncode == 0
    sis = write_oneroster(tmp_path / "sis", users=family_rows(5), orgs=ORGS)
    assert run.schoolgate("sync", "d", str(sis)).returncode == 0
    assert run.schoolgate("provision", "d", "--all").returncode == 0
    run.env["DOWNSTREAM_TOKEN"] = TOKEN
    added = run.schoolgate("integrations", "scim", "add", "d", "app", scim_server.base_url, "--token-env",
                           "DOWNSTREAM_TOKEN")  # fmt: skip
    assert added.returncode == 0, added.stderr
    worker = subprocess.Popen(
        [sys.executable, "-m", "schoolgate", "db_worker", "--queue-name", "*", "--no-startup-delay"],
        env=run.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert _wait(lambda: len(scim_server.users()) == 10, GIVE_UP_AFTER), "the worker pushed every account"
        assert scim_server.user("p3")["active"] is True
        revoked = run.schoolgate("revoke", "d", "p3", "--json")
        committed = time.monotonic()
        assert revoked.returncode == 0 and json.loads(revoked.stdout)["counts"]["revoked"] == 1, (
            revoked.stderr
        )
        assert _wait(lambda: scim_server.user("p3")["active"] is False, GIVE_UP_AFTER), "revocation pushed"
        delay = time.monotonic() - committed
    finally:
        worker.terminate()
        worker.communicate(timeout=30)
    record_property("revocation_to_downstream_seconds", round(delay, 3))
    print(f"revocation reached the downstream {delay:.2f} s after it was committed")
    assert scim_server.user("p2")["active"] is True, "only the revoked account changed"
