"""One runner a job: `run_job` takes only a queued job. The CLI's --wait and the console's small selections run
a job in place while the worker was queued the same job; the second runner must find nothing to do."""

from __future__ import annotations

import pytest

from schoolgate.accounts.models import AccountGroup
from schoolgate.jobs.models import ItemStatus, Job, JobStatus, Notification
from schoolgate.jobs.runner import cancel_job, resume_job, run_job
from tests.builders import write_oneroster

ORGS = [{"sourcedId": "sch", "type": "school"}]
USERS = [
    {"sourcedId": "s1", "role": "student", "orgSourcedIds": "sch", "agentSourcedIds": "p1"},
    {"sourcedId": "p1", "role": "parent", "orgSourcedIds": "sch", "email": "p1@example.org"},
]


@pytest.fixture
def queued(cli, district, tmp_path, settings):
    settings.SCHOOLGATE_REPORTS_DIR = tmp_path / "reports"
    cli("sync", district.slug, write_oneroster(tmp_path / "set", users=USERS, orgs=ORGS), "--json")
    cli(
        "group",
        "add",
        district.slug,
        "Parents",
        "--audience",
        "contact",
        "--passwords",
        "generated",
        "--json",
    )
    from schoolgate.accounts import generation

    return generation.start(AccountGroup.objects.get(district=district), actor="test")


def test_a_job_another_runner_holds_is_left_to_it(queued):
    Job.objects.filter(pk=queued.pk).update(status=JobStatus.RUNNING)  # another runner took it
    job = run_job(queued.pk)
    assert job.status == JobStatus.RUNNING and job.done == 0
    assert queued.items.filter(status=ItemStatus.PENDING).count() == 1, "nothing worked twice"
    assert not job.report_csv and not Notification.objects.exists()


def test_the_second_run_of_a_finished_job_does_nothing(queued):
    assert run_job(queued.pk).status == JobStatus.DONE
    again = run_job(queued.pk)
    assert again.status == JobStatus.DONE and Notification.objects.count() == 1


def test_a_job_cancelled_before_it_started_stays_cancelled_until_resumed(queued):
    cancel_job(queued, actor="test")
    assert run_job(queued.pk).status == JobStatus.CANCELLED, "the worker's queued task finds it cancelled"
    resume_job(Job.objects.get(pk=queued.pk), actor="test")
    assert run_job(queued.pk).status == JobStatus.DONE
