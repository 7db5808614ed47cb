"""DOMAIN.md scenario 4: the same username on two accounts — a staff member and a parent with the same e-mail
at two schools, a username typed onto the wrong record in the SIS, an admin's edit. Prevented at creation,
found and flagged when the SIS introduces one."""

from __future__ import annotations

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account
from schoolgate.core.models import AuditEvent
from tests.builders import write_oneroster
from tests.sync.helpers import accounts_by_person

ORGS = [{"sourcedId": "north", "type": "school"}, {"sourcedId": "south", "type": "school"}]


def users(parent_email: str = "j.park@district.example.org") -> list[dict]:
    return [
        {"sourcedId": "t1", "role": "teacher", "orgSourcedIds": "north", "givenName": "Jin", "familyName": "Park",
         "email": "J.Park@district.example.org"},
        {"sourcedId": "p1", "role": "parent", "orgSourcedIds": "south", "givenName": "Jin", "familyName": "Park",
         "email": parent_email},
        {"sourcedId": "k1", "role": "student", "orgSourcedIds": "south", "agentSourcedIds": "p1"},
        {"sourcedId": "k2", "role": "student", "orgSourcedIds": "south", "agentSourcedIds": "p1"},
        {"sourcedId": "p2", "role": "parent", "orgSourcedIds": "south", "email": "other@example.org"},
        {"sourcedId": "k3", "role": "student", "orgSourcedIds": "south", "agentSourcedIds": "p2"},
    ]  # fmt: skip


def test_staff_and_parent_with_one_email_at_two_schools_never_share_a_username(cli, district, tmp_path):
    assert cli("district", "set", district.slug, "--username-source", "email", "--json").code == 0
    cli("sync", district.slug, write_oneroster(tmp_path, users=users(), orgs=ORGS), "--json")
    assert cli("provision", district.slug, "t1", "--json").json["counts"] == {"provisioned": 1, "skipped": 0}
    result = cli("provision", district.slug, "p1", "--json").json
    assert result["results"] == [
        {"person": "p1", "result": "skipped",
         "detail": "the username 'j.park@district.example.org' is already used by t1"},
    ]  # fmt: skip
    accounts = accounts_by_person(cli, district.slug)
    assert (accounts["t1"]["state"], accounts["t1"]["username"]) == ("invited", "J.Park@district.example.org")
    assert (accounts["p1"]["state"], accounts["p1"]["username"]) == ("ready_to_provision", None)
    everyone = cli("provision", district.slug, "--all", "--json").json
    assert {"person": "p1", "result": "skipped",
            "detail": "the username 'j.park@district.example.org' is already used by t1"} in everyone["results"]  # fmt: skip


def test_a_sis_change_that_creates_a_clash_flags_the_newer_account(cli, district, tmp_path):
    cli("district", "set", district.slug, "--username-source", "email", "--guard-minimum", "5", "--json")
    separate = users(parent_email="jin.park@home.example.org")
    cli("sync", district.slug, write_oneroster(tmp_path / "a", users=separate, orgs=ORGS), "--json")
    assert cli("provision", district.slug, "t1", "p1", "p2", "--json").json["counts"] == {
        "provisioned": 3,
        "skipped": 0,
    }
    # Someone types the work address onto the parent record in the SIS.
    doc = cli("sync", district.slug, write_oneroster(tmp_path / "b", users=users(), orgs=ORGS), "--json").json
    assert doc["counts"]["usernames"] == {"changed": 0, "clashes": 1, "resolved": 0}
    accounts = accounts_by_person(cli, district.slug)
    assert (accounts["p1"]["state"], accounts["p1"]["reason"], accounts["p1"]["username"]) == (
        "ready_to_revoke", "duplicate_username", "jin.park@home.example.org"
    )  # fmt: skip
    assert accounts["t1"]["state"] == "invited", "the older account keeps its username"
    event = AuditEvent.objects.get(
        district=district, action="account.flagged_for_revocation", target_label="p1"
    )
    assert event.after["reason"] == "duplicate_username"

    # The SIS is corrected: the clash is gone and the parent's login is restored, with its new e-mail.
    fixed = users(parent_email="jin@home.example.org")
    doc = cli("sync", district.slug, write_oneroster(tmp_path / "c", users=fixed, orgs=ORGS), "--json").json
    assert doc["counts"]["usernames"] == {"changed": 1, "clashes": 0, "resolved": 1}
    accounts = accounts_by_person(cli, district.slug)
    assert (accounts["p1"]["state"], accounts["p1"]["username"]) == ("invited", "jin@home.example.org")


def test_admin_edits_cannot_create_a_clash(cli, district, tmp_path):
    cli("sync", district.slug, write_oneroster(tmp_path, users=users(), orgs=ORGS), "--json")
    for code, name in (("t1", "jpark"), ("p2", "other")):
        account = Account.objects.get(person__sis_code=code)
        lifecycle.provision_account(account, actor="test")
        lifecycle.activate_account(account, username=name, password="a long passphrase", actor="test")
    for clash in ("JPark", "ｊｐａｒｋ"):  # noqa: RUF001 - full-width letters are the same username after NFKC
        result = cli("username", district.slug, "p2", clash, "--json")
        assert result.code == 1 and "already used by t1" in result.json["error"]
    ok = cli("username", district.slug, "p2", "parent.two", "--json")
    assert ok.code == 0 and ok.json["account"]["username"] == "parent.two"
    assert AuditEvent.objects.get(action="account.username_changed").before["username"] == "other"
    assert cli("username", district.slug, "k3", "kid", "--json").code == 1, "no login to rename"


def clash(cli, district, tmp_path):
    """t1, p1, p2 invited with their e-mail addresses; then the SIS types t1's address onto p1: p1 flagged."""
    cli("district", "set", district.slug, "--username-source", "email", "--guard-minimum", "5", "--json")
    separate = users(parent_email="jin.park@home.example.org")
    cli("sync", district.slug, write_oneroster(tmp_path / "a", users=separate, orgs=ORGS), "--json")
    cli("provision", district.slug, "t1", "p1", "p2", "--json")
    path = write_oneroster(tmp_path / "b", users=users(), orgs=ORGS)
    assert cli("sync", district.slug, path, "--json").json["counts"]["usernames"]["clashes"] == 1
    return path


def test_a_login_whose_record_changes_elsewhere_keeps_its_username(cli, district, tmp_path):
    cli("district", "set", district.slug, "--username-source", "email", "--json")
    cli("sync", district.slug, write_oneroster(tmp_path / "a", users=users(), orgs=ORGS), "--json")
    cli("provision", district.slug, "p2", "--json")
    renamed = [u | {"givenName": "Pat"} if u["sourcedId"] == "p2" else u for u in users()]
    doc = cli("sync", district.slug, write_oneroster(tmp_path / "b", users=renamed, orgs=ORGS), "--json").json
    assert doc["counts"]["usernames"] == {"changed": 0, "clashes": 0, "resolved": 0}
    p2 = accounts_by_person(cli, district.slug)["p2"]
    assert (p2["state"], p2["reason"], p2["username"]) == ("invited", None, "other@example.org")


def test_a_flagged_clash_is_not_flagged_again_by_the_next_sync(cli, district, tmp_path):
    path = clash(cli, district, tmp_path)
    events = AuditEvent.objects.filter(district=district).count()
    doc = cli("sync", district.slug, path, "--full", "--json").json
    assert doc["counts"]["usernames"] == {"changed": 0, "clashes": 0, "resolved": 0}
    assert AuditEvent.objects.filter(district=district).count() == events


def test_a_flagged_login_is_restored_when_the_other_holder_gives_the_username_up(cli, district, tmp_path):
    """Only the teacher's record changes in the SIS; the parent's flagged login is restored all the same."""
    clash(cli, district, tmp_path)
    moved = [u | {"email": "jin.park@north.example.org"} if u["sourcedId"] == "t1" else u for u in users()]
    path = write_oneroster(tmp_path / "c", users=moved, orgs=ORGS)
    cli("sync", district.slug, path, "--json")
    accounts = accounts_by_person(cli, district.slug)
    assert (accounts["t1"]["state"], accounts["t1"]["username"]) == ("invited", "jin.park@north.example.org")
    assert (accounts["p1"]["state"], accounts["p1"]["reason"], accounts["p1"]["username"]) == (
        "invited", None, "j.park@district.example.org"
    )  # fmt: skip


def test_a_flagged_login_is_restored_by_the_very_sync_in_which_the_holder_gives_the_username_up(
    cli, district, tmp_path
):
    clash(cli, district, tmp_path)
    moved = [u | {"email": "jin.park@north.example.org"} if u["sourcedId"] == "t1" else u for u in users()]
    doc = cli("sync", district.slug, write_oneroster(tmp_path / "c", users=moved, orgs=ORGS), "--json").json
    assert doc["counts"]["usernames"] == {"changed": 2, "clashes": 0, "resolved": 1}
    assert accounts_by_person(cli, district.slug)["p1"]["state"] == "invited"


def test_two_logins_given_one_new_address_in_one_sync_leave_it_to_the_first(cli, district, tmp_path):
    cli("district", "set", district.slug, "--username-source", "email", "--guard-minimum", "5", "--json")
    cli("sync", district.slug, write_oneroster(tmp_path / "a", users=users(), orgs=ORGS), "--json")
    cli("provision", district.slug, "p1", "p2", "--json")
    shared = [
        u | {"email": "park.home@example.org"} if u["sourcedId"] in ("p1", "p2") else u for u in users()
    ]
    doc = cli("sync", district.slug, write_oneroster(tmp_path / "b", users=shared, orgs=ORGS), "--json").json
    assert doc["counts"]["usernames"] == {"changed": 1, "clashes": 1, "resolved": 0}
    accounts = accounts_by_person(cli, district.slug)
    assert (accounts["p1"]["state"], accounts["p1"]["username"]) == ("invited", "park.home@example.org")
    assert (accounts["p2"]["state"], accounts["p2"]["reason"], accounts["p2"]["username"]) == (
        "ready_to_revoke", "duplicate_username", "other@example.org"
    )  # fmt: skip


def test_an_admin_renaming_a_flagged_login_to_a_free_username_restores_it(cli, district, tmp_path):
    clash(cli, district, tmp_path)
    result = cli("username", district.slug, "p1", "jin.parent", "--json")
    assert result.code == 0, result.stdout
    p1 = accounts_by_person(cli, district.slug)["p1"]
    assert (p1["state"], p1["reason"], p1["username"]) == ("invited", None, "jin.parent")


def test_an_admin_may_change_only_the_case_of_a_logins_own_username(cli, district, tmp_path):
    cli("sync", district.slug, write_oneroster(tmp_path, users=users(), orgs=ORGS), "--json")
    account = Account.objects.get(person__sis_code="p2")
    lifecycle.provision_account(account, actor="test")
    lifecycle.activate_account(account, username="jpark", password="a long passphrase", actor="test")
    result = cli("username", district.slug, "p2", "JPark", "--json")
    assert result.code == 0, result.stdout
    assert accounts_by_person(cli, district.slug)["p2"]["username"] == "JPark"


def test_clashes_a_sync_would_flag_are_in_its_dry_run_and_count_in_its_guard(cli, district, tmp_path):
    """The username step runs after the plan; a dry run and the mass-revocation guard must see its flags too
    (a sync once sent hundreds of logins to ready_to_revoke unheld while its dry run showed none)."""
    cli("district", "set", district.slug, "--username-source", "email", "--guard-minimum", "0", "--json")
    separate = users(parent_email="jin.park@home.example.org")
    cli("sync", district.slug, write_oneroster(tmp_path / "a", users=separate, orgs=ORGS), "--json")
    cli("provision", district.slug, "t1", "p1", "p2", "--json")
    clashing = write_oneroster(tmp_path / "b", users=users(), orgs=ORGS)

    dry = cli("sync", district.slug, clashing, "--dry-run", "--json").json
    assert dry["status"] == "dry_run" and dry["counts"]["usernames"]["clashes"] == 1
    assert {"person": "p1", "kind": "contact", "from": "invited", "to": "ready_to_revoke",
            "reason": "duplicate_username", "successor": None} in dry["diff"]  # fmt: skip
    assert dry["counts"]["guard"]["revoking"] == 1 and dry["counts"]["guard"]["tripped"]
    assert accounts_by_person(cli, district.slug)["p1"]["state"] == "invited", "a dry run changes nothing"

    held = cli("sync", district.slug, clashing, "--json")
    assert held.code == 3 and held.json["status"] == "held"
    assert any(
        move["person"] == "p1" and move["reason"] == "duplicate_username" for move in held.json["diff"]
    )
    assert accounts_by_person(cli, district.slug)["p1"]["state"] == "invited", "a held run changes nothing"
    assert not AuditEvent.objects.filter(action="account.flagged_for_revocation").exists()

    applied = cli("sync", district.slug, clashing, "--confirm", "--json")
    assert applied.code == 0 and applied.json["status"] == "applied"
    assert accounts_by_person(cli, district.slug)["p1"]["reason"] == "duplicate_username"
