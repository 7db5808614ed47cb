"""Generated passwords survive a cancel: a cancelled job keeps its handouts until it is done, the final report
lists the password of every account the job created (those from before the cancel too), each ending has its
own report files (the final one never replaces the cancelled one an admin may have handed passwords out
from), each notification links its own report, and the handouts are erased once the final report is
written."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from django.contrib.auth.hashers import check_password

from schoolgate.accounts import generation
from schoolgate.accounts.models import Account
from schoolgate.core.models import AuditEvent
from schoolgate.jobs import runner
from schoolgate.jobs.models import Notification
from schoolgate.jobs.runner import cancel_job, resume_job, run_job
from tests.jobs.conftest import FAMILIES, report_rows


def cancel_after_batches(n: int):
    """An `on_batch` that asks for a cancel after the job's n-th batch (as an admin would, meanwhile)."""
    seen = []

    def on_batch(job):
        seen.append(job.pk)
        if len(seen) == n:
            cancel_job(job, actor="admin:test")

    return on_batch


def test_passwords_from_before_a_cancel_are_in_the_final_report(handout):
    cancelled = run_job(handout.pk, on_batch=cancel_after_batches(1))
    assert (cancelled.status, cancelled.done) == ("cancelled", 2)
    first = report_rows(cancelled.report_csv)
    handed = {code: row["password"] for code, row in first.items() if row["password"]}
    assert len(handed) == 2, "the cancelled report hands out the passwords made so far"
    assert handout.items.exclude(handout="").count() == 2, "kept for the final report: the job will resume"
    cancelled_files = {p: Path(p).read_bytes() for p in (cancelled.report_csv, cancelled.report_pdf)}

    resume_job(cancelled, actor="admin:test")
    done = run_job(handout.pk)
    assert (done.status, done.done, done.failed) == ("done", FAMILIES, 0)
    final = report_rows(done.report_csv)
    assert len(final) == FAMILIES and all(row["result"] == "created" for row in final.values())
    assert {code: final[code]["password"] for code in handed} == handed, "the same passwords, again"
    for code, row in final.items():
        account = Account.objects.get(district=handout.district, person__sis_code=code)
        assert row["password"] and check_password(row["password"], account.password_hash), code
    assert not handout.items.exclude(handout="").exists(), "erased once the final report is written"

    assert {done.report_csv, done.report_pdf}.isdisjoint(cancelled_files), "its own files"
    for path, content in cancelled_files.items():
        assert Path(path).read_bytes() == content, f"{path} is left as it was announced"
    links = list(Notification.objects.filter(job=handout).order_by("pk").values_list("link", flat=True))
    assert links == [cancelled.report_pdf, done.report_pdf]
    actions = AuditEvent.objects.filter(target_type="job", target_id=handout.pk).order_by("pk")
    assert [e.action for e in actions] == ["job.cancel_requested", "job.cancelled", "job.resumed", "job.done"]


def test_every_ending_of_a_twice_cancelled_job_keeps_its_report(handout):
    reports = []
    for _ in range(2):
        job = run_job(handout.pk, on_batch=cancel_after_batches(1))
        assert job.status == "cancelled"
        reports.append(job.report_csv)
        resume_job(job, actor="admin:test")
    done = run_job(handout.pk)
    reports.append(done.report_csv)
    assert len(set(reports)) == 3 and all(Path(p).is_file() for p in reports)
    assert [sum(bool(r["password"]) for r in report_rows(p).values()) for p in reports] == [2, 4, FAMILIES]


def test_a_cancel_that_comes_after_the_last_batch_ends_the_job_done(handout, monkeypatch):
    kind = runner.KINDS[generation.KIND]
    monkeypatch.setitem(runner.KINDS, generation.KIND, dataclasses.replace(kind, batch_size=FAMILIES))
    job = run_job(handout.pk, on_batch=cancel_after_batches(1))  # one full batch did everything
    assert (job.status, job.done) == ("done", FAMILIES), "nothing was left to cancel"
    assert all(row["password"] for row in report_rows(job.report_csv).values())
    assert not handout.items.exclude(handout="").exists(), "a job that cannot resume keeps no passwords"
