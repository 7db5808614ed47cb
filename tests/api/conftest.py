"""Fixtures for the API tests: two populated districts (people in two schools, a sync run, a group, a job) and
tokens made by the domain function the `schoolgate token create` command uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from schoolgate.accounts import generation
from schoolgate.accounts.models import AccountGroup
from schoolgate.admins import roles
from schoolgate.admins.models import ServiceRole
from schoolgate.admins.tokens import create_token
from schoolgate.core.models import District
from schoolgate.sync.models import SyncRun
from tests.builders import write_oneroster
from tests.console.test_access import people
from tests.factories import make_district

EVERYTHING = "service:everything"  # tokens cannot be Primary; a service level can carry every permission


@dataclass
class Api:
    """A test client that sends one token's Authorization header to /api/v1/."""

    client: Client
    raw: str

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("headers", {})["Authorization"] = f"Bearer {self.raw}"
        if "json" in kwargs:
            kwargs["data"], kwargs["content_type"] = kwargs.pop("json"), "application/json"
        return getattr(self.client, method.lower())(f"/api/v1{path}", **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.call("POST", path, **kwargs)

    @property
    def actor(self) -> str:
        return f"api:{self.raw[:10]}"


def token_for(district: District, level: str, schools: tuple[str, ...] = ()) -> str:
    if level == EVERYTHING:
        ServiceRole.objects.get_or_create(district=district, key="everything",
                                          defaults={"name": "Everything", "permissions": sorted(roles.ALL)})  # fmt: skip
    raw, _ = create_token(district, level=level, scope="api", name=f"test {level}", actor="test")
    return raw


def populate(cli, district: District, tmp_path, prefix: str) -> dict[str, Any]:
    """People in two schools (synced from OneRoster), a sync run, an account group and a queued job."""
    orgs = [{"sourcedId": f"{prefix}north", "name": "North", "type": "school"},
            {"sourcedId": f"{prefix}south", "name": "South", "type": "school"}]  # fmt: skip
    users = people(prefix, f"{prefix}north") + people(prefix + "s", f"{prefix}south")
    cli("sync", district.slug, write_oneroster(tmp_path / prefix, users=users, orgs=orgs), "--json")
    cli("group", "add", district.slug, "Parents", "--audience", "contact", "--usernames", "chosen", "--json")
    job = generation.start(AccountGroup.objects.get(district=district), actor="test")
    return {"slug": district.slug, "code": f"{prefix}p0", "job_id": job.pk,
            "run_id": SyncRun.objects.filter(district=district).latest("pk").pk}  # fmt: skip


@pytest.fixture
def api_for(client):
    def make(district: District, level: str = EVERYTHING) -> Api:
        return Api(client, token_for(district, level))

    return make


@pytest.fixture
def two_districts(cli, tmp_path, settings):
    """Districts A and B, each populated with real objects (see tests/console/test_access.py `populate`)."""
    settings.SCHOOLGATE_REPORTS_DIR = tmp_path / "reports"
    a, b = make_district("alpha", name="Alpha"), make_district("bravo", name="Bravo District")
    return (a, populate(cli, a, tmp_path, "a")), (b, populate(cli, b, tmp_path, "b"))
