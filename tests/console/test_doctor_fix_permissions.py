"""The doctor's "Apply fix" is the transition itself: it needs that transition's permission, not only the
doctor's. An admin whose level may diagnose but not act sees what is wrong and what would fix it, and is
refused (403, nothing changed) if they post the fix anyway — on the console and on the API alike."""

from __future__ import annotations

import inspect
import re

import pytest

from schoolgate.accounts.doctor import fixes
from schoolgate.accounts.models import Account
from schoolgate.admins import roles
from schoolgate.admins.models import ServiceRole
from schoolgate.core.models import AuditEvent
from tests.api.conftest import Api, token_for
from tests.builders import write_oneroster
from tests.factories import log_in_admin, make_admin

ORGS = [{"sourcedId": "north", "name": "North High", "type": "school"}]
USERS = [
    {"sourcedId": "k1", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": "p1", "familyName": "Kid"},
    {"sourcedId": "p1", "role": "parent", "orgSourcedIds": "north", "familyName": "Parent",
     "email": "p1@example.org"},
]  # fmt: skip
HELPDESK = "service:helpdesk"


@pytest.fixture
def synced(cli, district, tmp_path):
    cli("sync", district.slug, write_oneroster(tmp_path / "set", users=USERS, orgs=ORGS), "--json")
    ServiceRole.objects.create(district=district, key="helpdesk", name="Helpdesk (diagnose only)",
                               permissions=[roles.DOCTOR, roles.VIEW_ACCOUNTS])  # fmt: skip
    return district


def test_every_fix_the_doctor_applies_names_its_permission():
    applied = set(re.findall(r'fix\.action == "(\w+)"', inspect.getsource(fixes.apply_fix)))
    assert applied and applied == set(roles.FIX_PERMISSIONS)
    assert roles.FIX_PERMISSIONS["merge"] == roles.EDIT_PEOPLE
    assert {roles.FIX_PERMISSIONS[a] for a in applied - {"merge"}} == {roles.ACT_ACCOUNTS}


def test_console_diagnose_only_level_sees_the_fix_but_cannot_apply_it(client, synced):
    log_in_admin(client, make_admin(synced, "help@example.org", HELPDESK))
    url = f"/console/{synced.slug}/doctor/"
    page = client.get(url, {"person": "p1"})
    assert page.status_code == 200 and b"not_provisioned" in page.content
    assert b"Apply fix" not in page.content and b"needs accounts.act" in page.content
    refused = client.post(url, {"person": "p1", "apply": "not_provisioned"})
    assert refused.status_code == 403
    assert Account.objects.get(person__sis_code="p1").state == "ready_to_provision"
    assert not AuditEvent.objects.filter(action="account.provisioned").exists()


def test_console_support_applies_the_same_fix(client, synced):
    log_in_admin(client, make_admin(synced, "support@example.org", roles.SUPPORT_ROLE))
    url = f"/console/{synced.slug}/doctor/"
    assert b"Apply fix" in client.get(url, {"person": "p1"}).content
    applied = client.post(url, {"person": "p1", "apply": "not_provisioned"})
    assert applied.status_code == 200 and b"Applied: provision" in applied.content
    assert Account.objects.get(person__sis_code="p1").state == "invited"


def test_api_diagnose_only_token_cannot_apply_a_fix(client, synced):
    api = Api(client, token_for(synced, HELPDESK))
    assert "not_provisioned" in [
        f["code"] for f in api.get("/doctor", data={"person": "p1"}).json()["findings"]
    ]
    refused = api.post("/doctor/apply", json={"person": "p1", "finding": "not_provisioned"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert refused.json()["error"]["detail"]["permission"] == roles.ACT_ACCOUNTS
    assert Account.objects.get(person__sis_code="p1").state == "ready_to_provision"
    support = Api(client, token_for(synced, roles.SUPPORT_ROLE))
    assert (
        support.post("/doctor/apply", json={"person": "p1", "finding": "not_provisioned"}).status_code == 200
    )
