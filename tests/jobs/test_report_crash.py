"""A job SIGKILLed while it writes its report is never left "done" without one: it stays running, resumes in
the worker (once its heartbeat has timed out: until then the job is taken to be still running), and ends done
with its report (generated passwords still in it, since they are erased only when the report is recorded) and
exactly one notification."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from tests.jobs.conftest import queue_handout_job

DRIVERS = Path(__file__).resolve().parent / "drivers"


@pytest.mark.parametrize("moment", ["before", "after"])
def test_a_job_killed_while_writing_its_report_resumes_and_ends_with_it(database, tmp_path, moment):
    run = database
    job_id = queue_handout_job(run, tmp_path, count=5)

    killed = run(sys.executable, str(DRIVERS / "kill_while_finishing.py"), job_id, moment)
    assert killed.returncode == -9, killed.stderr
    midway = json.loads(run.schoolgate("jobs", "d", "--id", job_id, "--json").stdout)["job"]
    assert (midway["status"], midway["done"]) == ("running", 5), "every item done, but not the job"
    assert midway["report_pdf"] is None, "no report is offered before the job records it"

    too_soon = run.schoolgate("jobs", "d", "--resume", job_id, "--json")
    assert too_soon.returncode == 1 and "is running" in json.loads(too_soon.stdout)["error"], too_soon.stderr
    # The dead worker's heartbeat times out (HEARTBEAT_TIMEOUT); until then its job counts as running.
    assert run(sys.executable, str(DRIVERS / "worker_died.py"), job_id).returncode == 0
    assert run.schoolgate("jobs", "d", "--resume", job_id).returncode == 0
    worker = run.schoolgate("db_worker", "--batch", "--queue-name", "*", "--no-startup-delay")
    assert worker.returncode == 0, worker.stderr
    done = json.loads(run.schoolgate("jobs", "d", "--id", job_id, "--json").stdout)["job"]
    assert (done["status"], done["done"], done["failed"]) == ("done", 5, 0)
    assert Path(done["report_pdf"]).is_file()
    with Path(done["report_csv"]).open(encoding="utf-8") as handle:
        report = list(csv.DictReader(handle))
    assert len(report) == 5 and all(row["password"] for row in report), "the passwords survived the crash"
    bell = json.loads(run.schoolgate("notifications", "d", "--json").stdout)
    assert len(bell["notifications"]) == 1, "announced once, not once per attempt"
