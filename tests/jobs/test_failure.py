"""An error in a job's work fails the job instead of escaping `run_job`: the batch it was in is rolled back,
the job ends failed with the error (audited, logged with its traceback), with the report of the committed
batches (their generated passwords in it, and kept for the final report) and a notification. The commands
show it plainly — with --json one document carrying the error — and once the cause is fixed the job
resumes."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from schoolgate.accounts import generation
from schoolgate.accounts.models import Account
from schoolgate.core.models import AuditEvent
from schoolgate.jobs import runner
from schoolgate.jobs.models import ItemStatus, Notification
from schoolgate.jobs.runner import resume_job, run_job
from tests.jobs.conftest import FAMILIES, report_rows

ERROR = "RuntimeError: the directory went away"


@pytest.fixture
def failing(monkeypatch):
    """Make the generation job's n-th batch fail after doing its work (so there is work to roll back);
    returns a function that sets n (0: no failure) and gives the original kind back."""
    kind = runner.KINDS[generation.KIND]
    batches, fail_at = [], [0]

    def process(job, items):
        batches.append(len(items))
        kind.process(job, items)
        if len(batches) == fail_at[0]:
            raise RuntimeError("the directory went away")

    monkeypatch.setitem(runner.KINDS, generation.KIND, dataclasses.replace(kind, process=process))

    def fail_batch(n: int) -> None:
        batches.clear()
        fail_at[0] = n

    return fail_batch


def test_an_error_in_a_batch_fails_the_job_with_a_report_of_what_was_done(handout, failing, caplog):
    failing(2)
    with caplog.at_level(logging.ERROR, logger="schoolgate.jobs.runner"):
        job = run_job(handout.pk)
    assert (job.status, job.done, job.error) == ("failed", 2, ERROR)
    assert job.finished_at is not None
    assert handout.items.filter(status=ItemStatus.PENDING).count() == FAMILIES - 2, "the failed batch undone"
    assert Account.objects.filter(group__name="Handout").count() == 2, "no account of the failed batch"
    rows = report_rows(job.report_csv)
    assert sum(bool(r["password"]) for r in rows.values()) == 2, "the committed batch's passwords"
    assert handout.items.exclude(handout="").count() == 2, "kept: the job will be resumed"
    note = Notification.objects.get(job=handout)
    assert note.title.endswith("stopped by an error") and ERROR in note.body and note.link == job.report_pdf
    event = AuditEvent.objects.get(target_type="job", target_id=job.pk, action="job.failed")
    assert event.after["error"] == ERROR and event.actor == "system:worker"
    assert any(r.exc_info and "RuntimeError" in r.exc_text for r in caplog.records if r.exc_text), (
        "the traceback is logged"
    )

    failing(0)  # the cause is fixed
    assert resume_job(job, actor="admin:test").status == "queued"
    done = run_job(handout.pk)
    assert (done.status, done.done, done.error) == ("done", FAMILIES, "")
    final = report_rows(done.report_csv)
    assert all(row["password"] for row in final.values()) and len(final) == FAMILIES
    assert {c: final[c]["password"] for c in rows if rows[c]["password"]} == {
        c: r["password"] for c, r in rows.items() if r["password"]
    }, "the passwords of the batch before the failure are those handed out in the failed job's report"
    assert not handout.items.exclude(handout="").exists()
    assert done.report_csv != job.report_csv


def test_the_commands_show_a_failed_job_plainly(handout, failing, cli):
    failing(1)
    slug = handout.district.slug
    waited = cli("generate", slug, "Handout", "--wait", "--json")
    assert waited.code == 0, "the error did not escape the command"
    doc = waited.json["job"]  # stdout is one JSON document
    assert (doc["status"], doc["error"], doc["done"]) == ("failed", ERROR, 0)
    assert doc["report_csv"] and doc["report_pdf"], "the report of what was done (nothing) all the same"

    failing(1)
    as_text = cli("generate", slug, "Handout", "--wait")
    assert as_text.code == 0 and " failed: 0/" in as_text.stdout

    shown = cli("jobs", slug, "--id", str(doc["id"]), "--json").json["job"]
    assert (shown["status"], shown["error"]) == ("failed", ERROR)
    listed = cli("jobs", slug, "--id", str(doc["id"])).stdout
    assert ": failed 0/" in listed and f"error: {ERROR}" in listed
    assert "Error: " + ERROR in as_text.stdout, "generate --wait says why too"


def test_the_api_and_the_console_show_why_a_job_failed(handout, failing, client):
    from tests.api.conftest import Api, token_for
    from tests.factories import log_in_admin, make_admin

    failing(1)
    job = run_job(handout.pk)
    district = handout.district
    api = Api(client, token_for(district, "support"))
    assert api.get(f"/jobs/{job.pk}").json()["error"] == ERROR
    log_in_admin(client, make_admin(district, "watcher@example.org", "support"))
    page = client.get(f"/console/{district.slug}/jobs/{job.pk}/")
    assert page.status_code == 200 and f"Stopped by an error: {ERROR}".encode() in page.content


def test_a_report_that_cannot_be_written_fails_the_job_and_keeps_the_passwords(handout, monkeypatch):
    def disk_full(*args):
        raise OSError(28, "No space left on device")

    write_reports = runner.write_reports
    monkeypatch.setattr(runner, "write_reports", disk_full)
    job = run_job(handout.pk)
    assert (job.status, job.done) == ("failed", FAMILIES)
    assert job.error == "the report could not be written: OSError: [Errno 28] No space left on device"
    assert not job.report_csv and Notification.objects.get(job=handout).link == ""
    assert handout.items.exclude(handout="").count() == FAMILIES, "nothing handed out: nothing erased"

    monkeypatch.setattr(runner, "write_reports", write_reports)  # space freed
    resume_job(job, actor="admin:test")
    done = run_job(handout.pk)
    assert done.status == "done" and all(r["password"] for r in report_rows(done.report_csv).values())
    assert not handout.items.exclude(handout="").exists()
