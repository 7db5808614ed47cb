"""DOMAIN.md scenario 8: generate accounts for a group — preview ("will be created" / "exists"), a background
job with progress, a PDF and CSV report of each success and failure announced in the notifications, and a job
killed mid-run that resumes without duplicates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from pypdf import PdfReader

from schoolgate.accounts.models import Account, Invitation
from schoolgate.jobs.models import Job
from schoolgate.jobs.runner import run_job
from tests.builders import write_oneroster

ROOT = Path(__file__).resolve().parents[2]
ORGS = [{"sourcedId": "north", "type": "school"}]


def families(n: int) -> list[dict]:
    users = []
    for i in range(n):
        users += [
            {"sourcedId": f"k{i}", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": f"p{i}"},
            {"sourcedId": f"p{i}", "role": "parent", "orgSourcedIds": "north", "givenName": "José",
             "familyName": "Müller" if i % 2 else "王", "email": f"p{i}@example.org"},
        ]  # fmt: skip
    users.append({"sourcedId": "nomail", "role": "parent", "orgSourcedIds": "north", "email": ""})
    users.append(
        {"sourcedId": "k-nomail", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": "nomail"}
    )
    return users


@pytest.fixture
def guardians(cli, district, tmp_path, settings):
    settings.SCHOOLGATE_REPORTS_DIR = tmp_path / "reports"
    cli("sync", district.slug, write_oneroster(tmp_path / "set", users=families(6), orgs=ORGS), "--json")
    added = cli(
        "group", "add", district.slug, "Parents", "--audience", "contact", "--usernames", "chosen", "--json"
    )
    assert added.code == 0, added.stdout
    return district


def test_preview_lists_who_will_be_created_and_who_exists(cli, guardians):
    cli("provision", guardians.slug, "p0", "--json")
    doc = cli("generate", guardians.slug, "Parents", "--preview", "--json").json
    assert doc["counts"] == {"exists": 1, "will be created": 6}
    rows = {r["person"]: r for r in doc["rows"]}
    assert rows["p0"]["account"] == "exists" and rows["p1"]["account"] == "will be created"
    assert rows["p1"]["detail"] == "chosen by the person at activation"
    assert Account.objects.filter(state="invited").count() == 1, "a preview changes nothing"


def test_generation_job_report_and_notification(cli, guardians):
    cli("provision", guardians.slug, "p0", "--json")
    doc = cli("generate", guardians.slug, "Parents", "--wait", "--json").json["job"]
    assert (doc["status"], doc["total"], doc["done"], doc["failed"]) == ("done", 7, 7, 0)
    assert Account.objects.filter(person__kind="contact", state="invited").count() == 7
    assert set(Account.objects.exclude(group=None).values_list("person__sis_code", flat=True)) == {
        f"p{i}" for i in range(1, 6)
    } | {"nomail"}  # fmt: skip

    text = "\n".join(page.extract_text() for page in PdfReader(doc["report_pdf"]).pages)
    assert "Generate accounts: Parents" in text and "Created 6, already existed 1, failed 0" in text
    assert "p3" in text and "Jose" in text, "CJK names are transliterated in the PDF"
    assert "no e-mail address" in " ".join(text.split()), (
        f"the welcome that could not be sent is reported: {text}"
    )
    csv_text = Path(doc["report_csv"]).read_text(encoding="utf-8")
    assert "王" in csv_text and "p0,José 王,exists" in csv_text.replace('"', "")

    bell = cli("notifications", guardians.slug, "--json").json
    assert bell["unread"] == 1 and bell["notifications"][0]["link"] == doc["report_pdf"]
    assert "6 created, 0 failed" in bell["notifications"][0]["title"]
    assert cli("notifications", guardians.slug, "--read-all", "--json").json["unread"] == 0

    again = cli("generate", guardians.slug, "Parents", "--wait", "--json").json["job"]
    assert again["done"] == 7 and Invitation.objects.count() == 7, "re-running regenerates nothing"


def test_generated_passwords_are_handed_out_in_the_report_only(cli, guardians):
    cli("group", "add", guardians.slug, "Handout", "--audience", "contact", "--usernames", "scheme",
        "--scheme", "{first:1}{last}", "--passwords", "generated", "--json")  # fmt: skip
    job = cli("generate", guardians.slug, "Handout", "--wait", "--json").json["job"]
    assert (job["done"], job["failed"]) == (7, 1)
    accounts = Account.objects.filter(group__name="Handout")
    assert accounts.count() == 6 and set(accounts.values_list("state", flat=True)) == {"active"}
    failure = Job.objects.get(pk=job["id"]).items.get(person__sis_code="nomail")
    assert failure.status == "failed" and "empty username" in failure.detail, "the reason is in the report"
    assert set(accounts.values_list("must_change_password", flat=True)) == {True}
    assert {a.username for a in accounts} >= {"jmuller", "jmuller2", "jwang"}
    csv_text = Path(job["report_csv"]).read_text(encoding="utf-8")
    assert "password" in csv_text.splitlines()[0]
    assert not Job.objects.get(pk=job["id"]).items.exclude(handout="").exists(), "erased once reported"
    open_links = Invitation.objects.filter(
        account__in=accounts, used_at__isnull=True, withdrawn_at__isnull=True
    )
    assert not open_links.exists(), "no welcome link is left open for a generated password"


def test_cancel_and_resume(cli, guardians):
    job = Job.objects.get(pk=cli("generate", guardians.slug, "Parents", "--json").json["job"]["id"])
    assert cli("jobs", guardians.slug, "--cancel", str(job.pk), "--json").json["job"]["status"] == "cancelled"
    assert Account.objects.filter(state="invited").count() == 0
    assert cli("jobs", guardians.slug, "--resume", str(job.pk), "--json").json["job"]["status"] == "queued"
    assert run_job(job.pk).status == "done"
    assert Account.objects.filter(state="invited").count() == 7


@pytest.fixture
def file_database(tmp_path):
    """A fresh migrated database outside the test transaction, for a worker process to crash in."""
    env = {**os.environ, "SCHOOLGATE_VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": str(ROOT),
           "SCHOOLGATE_REPORTS_DIR": str(tmp_path / "reports")}  # fmt: skip
    url = os.environ.get("SCHOOLGATE_DATABASE_URL")
    name = None
    if url:
        import psycopg

        name = f"sg_job_{uuid.uuid4().hex[:8]}"
        base = url.rsplit("/", 1)[0]
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        env["SCHOOLGATE_DATABASE_URL"] = f"{base}/{name}"
    run = lambda *a: subprocess.run(a, env=env, capture_output=True, text=True, check=False)  # noqa: E731
    assert run(sys.executable, "-m", "schoolgate", "migrate", "-v0").returncode == 0
    yield run
    if name:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_a_job_killed_mid_run_resumes_without_duplicates(file_database, tmp_path):
    run = file_database
    cli = [sys.executable, "-m", "schoolgate"]
    assert run(*cli, "district", "add", "d", "D").returncode == 0
    assert (
        run(
            *cli, "sync", "d", str(write_oneroster(tmp_path / "set", users=families(450), orgs=ORGS))
        ).returncode
        == 0
    )
    assert (
        run(*cli, "group", "add", "d", "Parents", "--audience", "contact", "--usernames", "scheme").returncode
        == 0
    )
    started = json.loads(run(*cli, "generate", "d", "Parents", "--json").stdout)["job"]
    killed = run(sys.executable, str(ROOT / "tests/jobs/drivers/kill_during_job.py"), str(started["id"]))
    assert killed.returncode == -9, killed.stderr
    midway = json.loads(run(*cli, "jobs", "d", "--id", str(started["id"]), "--json").stdout)["job"]
    assert midway["status"] == "running" and midway["done"] == 200, "one committed batch survived the crash"

    # The dead worker's heartbeat times out (jobs.runner.HEARTBEAT_TIMEOUT); until then the job counts as running.
    died = run(sys.executable, str(ROOT / "tests/jobs/drivers/worker_died.py"), str(started["id"]))
    assert died.returncode == 0, died.stderr
    assert run(*cli, "jobs", "d", "--resume", str(started["id"])).returncode == 0
    worker = run(*cli, "db_worker", "--batch", "--queue-name", "*", "--no-startup-delay")
    assert worker.returncode == 0, worker.stderr
    done = json.loads(run(*cli, "jobs", "d", "--id", str(started["id"]), "--json").stdout)["job"]
    assert (done["status"], done["done"], done["failed"]) == ("done", 451, 1), (
        "the nameless record fails, once"
    )
    accounts = json.loads(run(*cli, "accounts", "d", "--kind", "contact", "--json").stdout)["accounts"]
    invited = [a for a in accounts if a["state"] == "invited"]
    usernames = [a["username"] for a in invited]
    assert len(invited) == 450 and len(set(usernames)) == 450, "no duplicate logins or usernames"
    assert [a["person"] for a in accounts if a["state"] != "invited"] == ["nomail"]
