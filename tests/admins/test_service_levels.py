"""`schoolgate level`: service levels defined from the server's shell, and the token an SIS bridge needs — a
level with `sync.run` (which no built-in role a token may carry has) — uploading through the API."""

from __future__ import annotations

import pytest

from schoolgate.admins.models import ServiceRole
from schoolgate.core.models import AuditEvent
from schoolgate.sync.models import SyncRun, SyncStatus
from tests.api.conftest import Api
from tests.api.test_functional import _work, _zip
from tests.console.test_access import people
from tests.factories import make_district


def test_add_and_list_with_audit(cli, district):
    other = make_district("other", name="Other")
    added = cli("level", "add", "sis-bridge", "SIS bridge", "--permission", "sync.run",
                "--permission", "sync.view", "--district", district.slug, "--json")  # fmt: skip
    assert added.code == 0, added.stderr
    assert added.json["levels"] == [{"level": "service:sis-bridge", "key": "sis-bridge", "name": "SIS bridge",
                                     "permissions": ["sync.run", "sync.view"], "district": district.slug}]  # fmt: skip
    assert cli("level", "add", "reader", "Reader", "--permission", "accounts.view", "--json").code == 0
    assert (
        cli("level", "add", "elsewhere", "Else", "--permission", "audit.view", "--district", "other").code
        == 0
    )
    here = cli("level", "list", "--district", district.slug, "--json").json["levels"]
    assert [(lv["key"], lv["district"]) for lv in here] == [("reader", None), ("sis-bridge", district.slug)]
    everything = cli("level", "list", "--json").json["levels"]
    assert [lv["key"] for lv in everything] == ["elsewhere", "reader", "sis-bridge"]
    event = AuditEvent.objects.get(action="service_level.added", target_label="service:sis-bridge")
    assert event.district == district and event.actor.startswith("cli:")
    assert event.after["permissions"] == ["sync.run", "sync.view"]
    assert (
        AuditEvent.objects.get(action="service_level.added", target_label="service:reader").district is None
    )
    assert (
        AuditEvent.objects.get(action="service_level.added", target_label="service:elsewhere").district
        == other
    )


def test_unknown_permission_is_named_with_the_valid_ones(cli, district):
    result = cli(
        "level", "add", "x", "X", "--permission", "sync.run", "--permission", "sync.everything", "--json"
    )
    assert result.code == 1 and "'sync.everything'" in result.json["error"]
    assert "sync.run" in result.json["error"] and "accounts.view" in result.json["error"]
    assert "admins.manage" not in result.json["error"]  # not offered as valid
    assert not ServiceRole.objects.exists()


def test_managing_admins_is_refused(cli, district):
    result = cli("level", "add", "boss", "Boss", "--permission", "admins.manage", "--permission", "sync.view")
    assert result.code == 1 and "admins.manage" in result.stderr and "Primary" in result.stderr
    assert not ServiceRole.objects.exists() and not AuditEvent.objects.filter(action="service_level.added")


@pytest.mark.parametrize(
    "key", ["SIS", "sis_bridge", "sis bridge", "sis-", "sis--bridge", "service:sis", "a" * 51]
)
def test_bad_keys_are_refused(cli, district, key):
    result = cli("level", "add", key, "Name", "--permission", "sync.view", "--json")
    assert result.code == 1 and "lower-case letters, digits" in result.json["error"]
    assert not ServiceRole.objects.exists()


def test_a_key_names_one_level_wherever_it_applies(cli, district):
    other = make_district("other", name="Other")
    add = ("level", "add", "sis", "SIS", "--permission", "sync.view")
    assert cli(*add, "--district", district.slug).code == 0
    again = cli(*add, "--district", district.slug, "--json")
    assert again.code == 1 and "already applies in district" in again.json["error"]
    # A global one would apply in `district` too, where 'sis' already means something.
    assert cli(*add).code == 1
    assert cli(*add, "--district", other.slug).code == 0  # another district is another place
    ServiceRole.objects.all().delete()
    assert cli(*add).code == 0
    assert "every district" in cli(*add, "--district", other.slug).stderr
    assert cli(*add).code == 1
    assert ServiceRole.objects.count() == 1


def test_a_token_at_a_defined_level_uploads_a_sis_export(transactional_db, cli, client, tmp_path, settings):
    """The README's promise: define a level with sync.run, create a token at it, upload through the API."""
    settings.VAR_DIR = tmp_path / "var"
    district = make_district("upload", name="Upload")
    everyone = people("a", "anorth") + people("as", "asouth")
    support = cli("token", "create", "upload", "--name", "support", "--level", "support", "--json").json[
        "token"
    ]
    refused = Api(client, support).post("/sync-runs", data={"file": _zip(tmp_path, "refused", everyone)})
    assert refused.status_code == 403  # why the level is needed: no built-in token level may upload

    defined = cli("level", "add", "sis-bridge", "SIS bridge", "--permission", "sync.view",
                  "--permission", "sync.run", "--district", "upload", "--json")  # fmt: skip
    assert defined.code == 0, defined.stderr
    created = cli("token", "create", "upload", "--name", "SIS bridge", "--level", "service:sis-bridge",
                  "--scope", "api", "--json")  # fmt: skip
    assert created.code == 0, created.stderr
    api = Api(client, created.json["token"])
    upload = api.post("/sync-runs", data={"file": _zip(tmp_path, "first", everyone)})
    assert upload.status_code == 202, upload.content
    _work()
    done = api.get(f"/sync-uploads/{upload.json()['id']}").json()
    assert done["status"] == "SUCCESSFUL"
    run = SyncRun.objects.get(pk=done["run"])
    assert run.district == district and run.status == SyncStatus.APPLIED and run.actor == api.actor
