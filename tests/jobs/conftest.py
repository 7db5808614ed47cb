"""Fixtures for job tests: the separate-process database fixture the sync crash tests use, and a generation
job with generated passwords run two items a batch, so that a test can act between batches."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest

from tests.builders import write_oneroster
from tests.sync.conftest import database  # noqa: F401

ORGS = [{"sourcedId": "sch", "type": "school"}]
FAMILIES = 5


def families(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        rows += [
            {"sourcedId": f"s{i}", "role": "student", "orgSourcedIds": "sch", "agentSourcedIds": f"p{i}"},
            {"sourcedId": f"p{i}", "role": "parent", "orgSourcedIds": "sch", "givenName": "Pat",
             "familyName": f"Parent{i}", "email": f"p{i}@example.org"},
        ]  # fmt: skip
    return rows


def report_rows(path: str) -> dict[str, dict[str, str]]:
    """A report's CSV rows by person code."""
    with Path(path).open(encoding="utf-8", newline="") as handle:
        return {row["code"]: row for row in csv.DictReader(handle)}


@pytest.fixture
def handout(cli, district, tmp_path, settings, monkeypatch):
    """A queued generation job with generated passwords for five guardians, run two items a batch."""
    from schoolgate.accounts import generation
    from schoolgate.accounts.models import AccountGroup
    from schoolgate.jobs import runner

    settings.SCHOOLGATE_REPORTS_DIR = tmp_path / "reports"
    synced = cli(
        "sync", district.slug, write_oneroster(tmp_path / "set", users=families(FAMILIES), orgs=ORGS)
    )
    assert synced.code == 0, synced.stderr
    added = cli("group", "add", district.slug, "Handout", "--audience", "contact", "--usernames", "scheme",
                "--scheme", "{first}.{last}", "--passwords", "generated", "--json")  # fmt: skip
    assert added.code == 0, added.stdout
    kind = runner.KINDS[generation.KIND]
    monkeypatch.setitem(runner.KINDS, generation.KIND, dataclasses.replace(kind, batch_size=2))
    return generation.start(AccountGroup.objects.get(district=district, name="Handout"), actor="admin:test")


def queue_handout_job(run, tmp_path: Path, *, count: int) -> str:
    """Through the command line of the separate-process database (`database` fixture): a district "d" with
    `count` families and a queued generation job with generated passwords for its guardians; its id."""
    assert run.schoolgate("district", "add", "d", "District").returncode == 0
    users = families(count)
    synced = run.schoolgate("sync", "d", str(write_oneroster(tmp_path / "a", users=users, orgs=ORGS)))
    assert synced.returncode == 0, synced.stderr
    added = run.schoolgate("group", "add", "d", "Handout", "--audience", "contact", "--usernames", "scheme",
                           "--scheme", "{first}.{last}", "--passwords", "generated")  # fmt: skip
    assert added.returncode == 0, added.stderr
    return str(json.loads(run.schoolgate("generate", "d", "Handout", "--json").stdout)["job"]["id"])
