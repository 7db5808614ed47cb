"""`schoolgate level`: service levels defined from the server's shell, and the token an SIS bridge needs — a
level with `sync.run` (which no built-in role a token may carry has) — uploading through the API."""

from __future__ import annotations

import pytest
from django.utils import timezone

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


def test_a_level_is_changed_for_everyone_holding_it_at_once(cli, district, client):
    """New permissions apply to a token already holding the level, on its next request; audited."""
    from schoolgate.admins.tokens import create_token

    cli("level", "add", "reader", "Reader", "--permission", "sync.view", "--district", district.slug)
    raw, _ = create_token(district, level="service:reader", scope="api", name="reader", actor="test")
    api = Api(client, raw)
    assert api.get("/accounts").status_code == 403

    changed = cli("level", "change", "reader", "--permission", "accounts.view", "--permission", "sync.view",
                  "--name", "Account reader", "--district", district.slug, "--json")  # fmt: skip
    assert changed.code == 0, changed.stderr
    assert changed.json["levels"][0]["permissions"] == ["accounts.view", "sync.view"]
    assert api.get("/accounts").status_code == 200
    event = AuditEvent.objects.get(action="service_level.changed", target_label="service:reader")
    assert event.district == district
    assert (event.before["name"], event.after["name"]) == ("Reader", "Account reader")
    assert (event.before["permissions"], event.after["permissions"]) == (["sync.view"],
                                                                        ["accounts.view", "sync.view"])  # fmt: skip


def test_a_change_that_cannot_be_made_changes_nothing(cli, district):
    cli("level", "add", "reader", "Reader", "--permission", "sync.view", "--district", district.slug)
    for args, message in [
        (("--permission", "admins.manage"), "only the Primary manages admins"),
        (("--permission", "sync.everything"), "'sync.everything'"),
        (("--name", " "), "needs a name"),
        ((), "give a new name or the level's permissions"),
    ]:
        result = cli("level", "change", "reader", *args, "--district", district.slug, "--json")
        assert result.code == 1 and message in result.json["error"], (args, result.json)
    elsewhere = cli("level", "change", "reader", "--name", "X", "--json")  # the level is the district's own
    assert (
        elsewhere.code == 1
        and "no service level 'reader' defined for every district" in elsewhere.json["error"]
    )
    level = ServiceRole.objects.get(key="reader")
    assert (level.name, level.permissions) == ("Reader", ["sync.view"])
    assert not AuditEvent.objects.filter(action="service_level.changed").exists()


def test_a_level_is_removed_only_once_nobody_holds_it(cli, district):
    from schoolgate.admins.models import ApiToken
    from schoolgate.admins.tokens import create_token

    cli("level", "add", "bridge", "Bridge", "--permission", "sync.view")  # for every district
    create_token(district, level="service:bridge", scope="api", name="bridge", actor="test")
    held = cli("level", "remove", "bridge", "--json")
    assert held.code == 1 and "still held (1 token)" in held.json["error"], held.json
    assert ServiceRole.objects.filter(key="bridge").exists()

    ApiToken.objects.filter(level="service:bridge").update(revoked_at=timezone.now())
    removed = cli("level", "remove", "bridge", "--json")
    assert removed.code == 0, removed.stderr
    assert removed.json["removed"]["level"] == "service:bridge"
    assert not ServiceRole.objects.filter(key="bridge").exists()
    event = AuditEvent.objects.get(action="service_level.removed", target_label="service:bridge")
    assert event.district is None and event.before["permissions"] == ["sync.view"]
    again = cli("level", "remove", "bridge", "--json")
    assert again.code == 1 and "no service level 'bridge'" in again.json["error"]
