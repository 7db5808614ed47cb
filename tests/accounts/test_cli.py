"""The account commands' contract: JSON on stdout, exit codes 0/1/2, per-person results, nothing changed on
rejected input."""

from __future__ import annotations

import json

from schoolgate.accounts.models import Account
from tests.builders import write_oneroster
from tests.sync.helpers import district_state

ORGS = [{"sourcedId": "sch", "type": "school"}]
USERS = [
    {
        "sourcedId": "k1",
        "role": "student",
        "orgSourcedIds": "sch",
        "agentSourcedIds": "p1",
        "email": "k1@x.org",
    },
    {"sourcedId": "p1", "role": "parent", "orgSourcedIds": "sch", "email": "p1@x.org"},
    {
        "sourcedId": "k2",
        "role": "student",
        "orgSourcedIds": "sch",
        "agentSourcedIds": "p2",
        "email": "k2@x.org",
    },
    {"sourcedId": "p2", "role": "guardian", "orgSourcedIds": "sch"},  # no e-mail address
]


def synced(cli, district, tmp_path):
    assert cli("sync", district.slug, write_oneroster(tmp_path, users=USERS, orgs=ORGS), "--json").code == 0


def test_provision_without_an_email_address_says_so(cli, district, tmp_path):
    synced(cli, district, tmp_path)
    result = cli("provision", district.slug, "p2", "--json").json
    assert result["results"] == [
        {"person": "p2", "result": "provisioned",
         "detail": "no e-mail address on record: the welcome could not be sent (add one in the SIS, then resend)"}
    ]  # fmt: skip


def test_provision_named_people_reports_each_and_skips_what_is_not_ready(cli, district, tmp_path):
    synced(cli, district, tmp_path)
    first = cli("provision", district.slug, "p1", "k1", "--json")
    assert first.code == 0
    assert first.json == {
        "counts": {"provisioned": 2, "skipped": 0},
        "results": [{"person": "p1", "result": "provisioned"}, {"person": "k1", "result": "provisioned"}],
    }
    again = cli("provision", district.slug, "p1", "--json")
    assert again.code == 0
    assert again.json["results"] == [
        {"person": "p1", "result": "skipped", "detail": "the account is invited"}
    ]


def test_unknown_codes_reject_the_whole_request_and_change_nothing(cli, district, tmp_path):
    synced(cli, district, tmp_path)
    before = district_state(district)
    result = cli("provision", district.slug, "p1", "nobody", "--json")
    assert result.code == 1
    assert result.json["unknown"] == ["nobody"] and "nobody" in result.json["error"]
    assert district_state(district) == before


def test_provision_all_then_revoke_named(cli, district, tmp_path):
    synced(cli, district, tmp_path)
    assert cli("provision", district.slug, "--all", "--json").json["counts"] == {
        "provisioned": 4,
        "skipped": 0,
    }
    assert set(Account.objects.values_list("state", flat=True)) == {"invited"}
    revoked = cli("revoke", district.slug, "p2", "--json").json
    assert revoked == {
        "counts": {"revoked": 1, "skipped": 0},
        "results": [{"person": "p2", "result": "revoked"}],
    }
    assert Account.objects.get(person__sis_code="p2").state == "revoked"


def test_usage_errors_exit_2(cli, district):
    assert cli("provision", district.slug).code == 2, "neither --all nor codes"
    assert cli("provision", district.slug, "--all", "p1").code == 2, "both"
    assert cli("accounts", district.slug, "--state", "sleeping").code == 2
    assert cli("sync", district.slug).code == 2


def test_unknown_district_is_rejected_with_a_json_error(cli, db):
    result = cli("accounts", "atlantis", "--json")
    assert result.code == 1
    assert "no district 'atlantis'" in json.loads(result.stdout)["error"]


def test_district_add_and_duplicates(cli, db):
    added = cli("district", "add", "north", "North District", "--json")
    assert added.code == 0 and added.json["district"]["slug"] == "north"
    assert cli("district", "add", "north", "Again", "--json").code == 1
    assert cli("district", "add", "Bad Slug", "X", "--json").code == 1
    assert [d["slug"] for d in cli("district", "list", "--json").json["districts"]] == ["north"]


def test_human_readable_output(cli, district, tmp_path):
    result = cli("sync", district.slug, write_oneroster(tmp_path, users=USERS, orgs=ORGS))
    assert result.code == 0 and "applied" in result.stdout and "people: added 4" in result.stdout
    table = cli("accounts", district.slug)
    assert "ready_to_provision" in table.stdout and "p1" in table.stdout
