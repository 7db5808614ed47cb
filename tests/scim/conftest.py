"""Fixtures for the SCIM server tests: a synced district with accounts in every state, and SCIM tokens."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account, AccountState
from tests.builders import write_oneroster
from tests.factories import make_district


@dataclass
class ScimDistrict:
    slug: str
    token: str
    base: str

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token}"} if (token or self.token) else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)


def make_token(cli, slug: str, level: str = "support") -> str:
    result = cli(
        "token", "create", slug, "--name", f"scim {level}", "--level", level, "--scope", "scim", "--json"
    )
    assert result.code == 0, result.stderr
    return result.json["token"]


def populate(cli, district, tmp_path, prefix: str = "") -> None:
    """Two schools, three families (a guardian who sees two children), two teachers; then accounts in each
    state: guardians provisioned (one activated), a student ready_to_provision, a teacher revoked."""
    orgs = [{"sourcedId": f"{prefix}north", "name": "North", "type": "school"},
            {"sourcedId": f"{prefix}south", "name": "South", "type": "school"}]  # fmt: skip
    users = [
        {"sourcedId": f"{prefix}k1", "role": "student", "orgSourcedIds": f"{prefix}north",
         "agentSourcedIds": f"{prefix}mum", "givenName": "Ann", "familyName": "Able"},
        {"sourcedId": f"{prefix}k2", "role": "student", "orgSourcedIds": f"{prefix}south",
         "agentSourcedIds": f"{prefix}mum", "givenName": "Ben", "familyName": "Able"},
        {"sourcedId": f"{prefix}k3", "role": "student", "orgSourcedIds": f"{prefix}north",
         "agentSourcedIds": f"{prefix}dad", "givenName": "Cat", "familyName": "Cole"},
        {"sourcedId": f"{prefix}mum", "role": "parent", "orgSourcedIds": f"{prefix}north",
         "givenName": "Mia", "familyName": "Able", "email": f"{prefix}mia.able@example.org"},
        {"sourcedId": f"{prefix}dad", "role": "parent", "orgSourcedIds": f"{prefix}north",
         "givenName": "Dan", "familyName": "Cole", "email": f"{prefix}dan.cole@example.org"},
        {"sourcedId": f"{prefix}t1", "role": "teacher", "orgSourcedIds": f"{prefix}north",
         "givenName": "Tom", "familyName": "Teach", "email": f"{prefix}tom@example.org"},
    ]  # fmt: skip
    result = cli(
        "sync", district.slug, write_oneroster(tmp_path / (prefix or "sis"), users=users, orgs=orgs), "--json"
    )
    assert result.code == 0, result.stderr
    result = cli("provision", district.slug, "--all", "--json")
    assert result.code == 0, result.stderr
    mum = Account.objects.get(district=district, person__sis_code=f"{prefix}mum")
    if mum.state == AccountState.INVITED:
        lifecycle.activate_account(mum, username=f"{prefix}mia", password="a long passphrase", actor="test")


@pytest.fixture
def scim(cli, live_server, tmp_path) -> ScimDistrict:
    district = make_district()
    populate(cli, district, tmp_path)
    token = make_token(cli, district.slug)
    return ScimDistrict(district.slug, token, f"{live_server.url}/scim/v2/{district.slug}")
