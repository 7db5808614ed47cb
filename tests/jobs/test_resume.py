"""Resume takes only a job nothing else will finish: a cancelled or failed one, or a running one whose worker
died (silent past HEARTBEAT_TIMEOUT). A running job with a live worker is refused, naming its status —
resuming it queued a second worker alongside the first: two notifications, and the second report without the
passwords the first ending erased. A runner whose job was resumed while it was stalled stops without
writing."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.utils import timezone

from schoolgate.accounts import generation
from schoolgate.accounts.models import Account
from schoolgate.core.models import AuditEvent
from schoolgate.jobs import runner
from schoolgate.jobs.models import ItemStatus, Job, Notification
from schoolgate.jobs.runner import HEARTBEAT_TIMEOUT, JobRejected, resume_job, run_job
from tests.jobs.conftest import FAMILIES, report_rows


class Killed(BaseException):
    """The runner's process dying (not an error of the job's work, which ends the job failed)."""


def silence(job: Job, span: timedelta) -> None:
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - span)


def test_a_running_job_with_a_live_worker_is_not_resumed(handout, cli):
    slug, tried = handout.district.slug, []

    def resume_meanwhile(job):
        if not tried:
            tried.append(cli("jobs", slug, "--resume", str(job.pk), "--json"))
            tried.append(cli("jobs", slug, "--resume", str(job.pk)))
            with pytest.raises(JobRejected, match=f"job {job.pk} is running"):
                resume_job(job, actor="admin:test")

    job = run_job(handout.pk, on_batch=resume_meanwhile)
    as_json, as_text = tried
    assert as_json.code == 1 and as_json.json["error"].startswith(f"job {job.pk} is running;")
    assert "heard from" in as_json.json["error"] and "a second worker" in as_json.json["error"]
    assert as_text.code == 1 and f"job {job.pk} is running" in as_text.stderr
    assert (job.status, job.done) == ("done", FAMILIES)
    assert Notification.objects.filter(job=handout).count() == 1, "one runner, one ending"
    assert all(row["password"] for row in report_rows(job.report_csv).values())
    assert not AuditEvent.objects.filter(action="job.resumed").exists()


def test_a_running_job_whose_worker_died_is_resumed_once_its_heartbeat_times_out(handout):
    def die(job):
        raise Killed

    with pytest.raises(Killed):
        run_job(handout.pk, on_batch=die)  # one batch committed, then the worker is gone
    crashed = Job.objects.get(pk=handout.pk)
    assert (crashed.status, crashed.done) == ("running", 2)

    silence(crashed, HEARTBEAT_TIMEOUT - timedelta(seconds=30))
    with pytest.raises(JobRejected, match="is running"):
        resume_job(crashed, actor="admin:test")  # not yet: it may be a long batch
    silence(crashed, HEARTBEAT_TIMEOUT + timedelta(seconds=1))
    assert resume_job(crashed, actor="admin:test").status == "queued"
    done = run_job(handout.pk)
    assert (done.status, done.done, done.failed) == ("done", FAMILIES, 0)
    assert Account.objects.filter(group__name="Handout").count() == FAMILIES, "no item done twice"
    assert all(row["password"] for row in report_rows(done.report_csv).values())
    assert Notification.objects.filter(job=handout).count() == 1


def test_queued_and_done_jobs_are_not_resumed(handout):
    with pytest.raises(JobRejected, match=f"job {handout.pk} is queued"):
        resume_job(handout, actor="admin:test")
    done = run_job(handout.pk)
    with pytest.raises(JobRejected, match=f"job {handout.pk} is done"):
        resume_job(done, actor="admin:test")


def test_a_stalled_runner_whose_job_was_resumed_stops_without_writing(handout):
    """The first runner stalls past the timeout after its first batch; the job is resumed and a second runner
    finishes it. The first, waking, finds its claim gone: no second ending, no second notification."""
    second = []

    def stall(job):
        if not second:
            silence(job, HEARTBEAT_TIMEOUT + timedelta(seconds=1))
            resume_job(Job.objects.get(pk=job.pk), actor="admin:test")
            second.append(run_job(job.pk))

    first = run_job(handout.pk, on_batch=stall)
    assert second[0].status == "done" and first.status == "done"
    assert Notification.objects.filter(job=handout).count() == 1
    assert all(row["password"] for row in report_rows(first.report_csv).values()), (
        "not rewritten without them"
    )
    assert Account.objects.filter(group__name="Handout").count() == FAMILIES


def test_a_batch_whose_runner_lost_the_job_meanwhile_is_undone(handout, monkeypatch):
    kind = runner.KINDS[generation.KIND]

    def taken_over_meanwhile(job, items):
        kind.process(job, items)
        Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())  # another runner claimed it

    monkeypatch.setitem(
        runner.KINDS, generation.KIND, dataclasses.replace(kind, process=taken_over_meanwhile)
    )
    job = run_job(handout.pk)
    assert (job.status, job.done) == ("running", 0), "left to the runner that holds it"
    assert handout.items.filter(status=ItemStatus.PENDING).count() == FAMILIES, "the batch was undone"
    assert not Account.objects.filter(group__name="Handout").exists()
    assert not Notification.objects.exists()
