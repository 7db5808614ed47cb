"""Cancelling a big job on SQLite: the runner leaves a gap between batches (and keeps each batch to about
SQLITE_BATCH_SECONDS), so a cancel gets the write lock within about one batch — it used to wait for its
whole 30 s lock timeout and fail with a traceback ("database is locked"). A cancel or resume that still finds
the database locked says so: exit 1 with the reason (JSON with --json), nothing changed."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from django.db import OperationalError, connection

from schoolgate.jobs.models import Job
from tests.jobs.conftest import queue_handout_job

DRIVERS = Path(__file__).resolve().parent / "drivers"


def job_row_locked(execute, sql, params, many, context):
    """The database as a long write elsewhere leaves it: writing the job's row times out."""
    if sql.lstrip().upper().startswith("UPDATE") and '"jobs_job"' in sql:
        raise OperationalError("database is locked")
    return execute(sql, params, many, context)


@pytest.mark.parametrize("verb", ["--cancel", "--resume"])
def test_a_cancel_or_resume_that_finds_the_database_locked_says_so(handout, cli, verb):
    if verb == "--resume":
        Job.objects.filter(pk=handout.pk).update(status="cancelled")
    slug, before = handout.district.slug, Job.objects.get(pk=handout.pk)
    with connection.execute_wrapper(job_row_locked):
        as_json = cli("jobs", slug, verb, str(handout.pk), "--json")
        as_text = cli("jobs", slug, verb, str(handout.pk))
    assert as_json.code == 1 and "the database stayed busy" in as_json.json["error"]
    assert "nothing was changed" in as_json.json["error"] and "try again" in as_json.json["error"]
    assert as_text.code == 1 and "the database stayed busy" in as_text.stderr
    after = Job.objects.get(pk=handout.pk)
    assert (after.status, after.cancel_requested) == (before.status, before.cancel_requested)


def test_a_cancel_gets_in_between_the_batches_of_a_big_job(database, tmp_path):
    """A real worker process hashing generated passwords (about 10 s for a first batch of 200 here) and a
    cancel from another process once it is under way. Before: the cancel waited 30 s and failed."""
    run = database
    job_id = queue_handout_job(run, tmp_path, count=600)

    worker = run.start(sys.executable, str(DRIVERS / "run_job.py"), job_id)
    try:
        assert worker.stdout.readline().strip() == "batch", worker.stderr.read() if worker.poll() else ""
        started = time.monotonic()
        cancelled = run.schoolgate("jobs", "d", "--cancel", job_id, "--json")
        took = time.monotonic() - started
        assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
        out, err = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert out.strip().splitlines()[-1] == "cancelled", err
    print(f"cancel took {took:.1f} s")
    assert took < 15, f"the cancel waited {took:.1f} s for the write lock"
    job = json.loads(run.schoolgate("jobs", "d", "--id", job_id, "--json").stdout)["job"]
    assert job["status"] == "cancelled" and 200 <= job["done"] < 600
