"""Who may read a job's report. A generation job's report lists the usernames it created and may hold the
passwords it generated: only admins who may generate accounts read it, not a read-only auditor."""

from __future__ import annotations

import pytest
from django.test import Client

from schoolgate.jobs.runner import run_job
from tests.builders import write_oneroster
from tests.factories import log_in_admin, make_admin

ORGS = [{"sourcedId": "north", "name": "North High", "type": "school"}]
USERS = [
    {"sourcedId": "k1", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": "p1",
     "givenName": "Kit", "familyName": "Lee"},
    {"sourcedId": "p1", "role": "parent", "orgSourcedIds": "north", "givenName": "Pat", "familyName": "Lee",
     "email": "p1@example.org"},
]  # fmt: skip


@pytest.fixture
def generated(cli, district, tmp_path, settings):
    settings.SCHOOLGATE_REPORTS_DIR = tmp_path / "reports"
    cli("sync", district.slug, write_oneroster(tmp_path / "set", users=USERS, orgs=ORGS), "--json")
    cli("group", "add", district.slug, "Kids", "--audience", "student", "--passwords", "generated", "--json")
    job_id = cli("generate", district.slug, "Kids", "--json").json["job"]["id"]
    job = run_job(job_id)
    assert job.status == "done" and job.report_csv
    return district, job


def client_of(district, role: str, email: str) -> Client:
    client = Client()
    log_in_admin(client, make_admin(district, email=email, role=role))
    return client


@pytest.mark.parametrize(("role", "allowed"), [("primary", True), ("support", True), ("auditor", False)])
def test_a_generation_report_is_for_those_who_may_generate(generated, role, allowed):
    district, job = generated
    client = client_of(district, role, f"{role}@example.org")
    page = client.get(f"/console/{district.slug}/jobs/{job.pk}/").content
    assert (b"report.csv" in page) is allowed
    for kind in ("csv", "pdf"):
        response = client.get(f"/console/{district.slug}/jobs/{job.pk}/report.{kind}")
        assert response.status_code == (200 if allowed else 403), (role, kind)
    if allowed:
        body = b"".join(client.get(f"/console/{district.slug}/jobs/{job.pk}/report.csv").streaming_content)
        assert b"password" in body.splitlines()[0]
    else:
        assert b"may generate accounts" in page
