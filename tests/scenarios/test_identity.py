"""DOMAIN.md scenario 2 (contact-code change) and the identity side of scenario 3 (family split), through the
CLI: the successor is detected with evidence, named on the old account, and the login carried over in one
audited action — by an admin, or by the sync when the district allows it for strong matches."""

from __future__ import annotations

from django.contrib.auth.hashers import check_password

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account
from schoolgate.core.models import AuditEvent
from tests.builders import write_oneroster
from tests.sync.helpers import accounts_by_person

ORGS = [{"sourcedId": "north", "type": "school"}]
PASSWORD = "a long passphrase"


def maria(code: str, **fields) -> dict:
    return {"sourcedId": code, "role": "parent", "orgSourcedIds": "north", "givenName": "María", "familyName": "López",
            "email": "maria.lopez@example.org", "phone": "+1 555 123 4567", **fields}  # fmt: skip


def kid(*parents: str) -> dict:
    return {"sourcedId": "kid", "role": "student", "orgSourcedIds": "north", "givenName": "Ana",
            "familyName": "López", "agentSourcedIds": ",".join(parents)}  # fmt: skip


def active_maria(cli, district, tmp_path) -> None:
    cli("district", "set", district.slug, "--guard-minimum", "5", "--json")
    cli(
        "sync",
        district.slug,
        write_oneroster(tmp_path / "before", users=[kid("C1"), maria("C1")], orgs=ORGS),
        "--json",
    )
    account = Account.objects.get(district=district, person__sis_code="C1")
    lifecycle.provision_account(account, actor="test")
    lifecycle.activate_account(account, username="maria", password=PASSWORD, actor="test")


def rekey(cli, district, tmp_path, **changes):
    path = write_oneroster(tmp_path / "after", users=[kid("C2"), maria("C2", **changes)], orgs=ORGS)
    result = cli("sync", district.slug, path, "--json")
    assert result.code == 0, result.stdout
    return path, result.json


def test_code_change_is_detected_and_the_login_transferred_by_an_admin(cli, district, tmp_path):
    active_maria(cli, district, tmp_path)
    path, doc = rekey(cli, district, tmp_path)
    assert doc["matches"] == [
        {"old": "C1", "new": "C2", "strength": "strong", "score": 1.0,
         "reasons": ["email", "phone", "family name", "given name"]}
    ]  # fmt: skip
    accounts = accounts_by_person(cli, district.slug)
    assert (accounts["C1"]["state"], accounts["C1"]["reason"], accounts["C1"]["successor"]) == (
        "ready_to_revoke", "superseded", "C2"
    )  # fmt: skip
    assert accounts["C2"]["state"] == "ready_to_provision"
    flagged = AuditEvent.objects.get(
        district=district, action="account.flagged_for_revocation", target_label="C1"
    )
    assert (flagged.before["state"], flagged.after["state"], flagged.after["reason"]) == (
        "active", "ready_to_revoke", "superseded"
    )  # fmt: skip

    moved = cli("transfer", district.slug, "C1", "C2", "--json")
    assert moved.code == 0
    assert moved.json["transferred"] == {"from": "C1", "to": "C2", "username": "maria", "state": "active",
                                         "overrides_moved": 0}  # fmt: skip
    accounts = accounts_by_person(cli, district.slug)
    assert (accounts["C2"]["state"], accounts["C2"]["username"], accounts["C2"]["students"]) == (
        "active",
        "maria",
        ["kid"],
    )
    assert (accounts["C1"]["state"], accounts["C1"]["reason"], accounts["C1"]["username"]) == (
        "revoked",
        "superseded",
        None,
    )
    new = Account.objects.get(person__sis_code="C2")
    assert check_password(PASSWORD, new.password_hash), "she logs in with the password she already had"
    out = AuditEvent.objects.get(district=district, action="account.transferred_out")
    into = AuditEvent.objects.get(district=district, action="account.transferred_in")
    assert (out.target_label, out.before["username"], out.after["counterpart"]) == ("C1", "maria", "C2")
    assert (into.target_label, into.after["username"], into.after["state"]) == ("C2", "maria", "active")

    again = cli("sync", district.slug, path, "--json").json
    assert again["counts"]["accounts"]["ready_to_revoke"] == 0 and "matches" not in again
    assert cli("transfer", district.slug, "C1", "C2", "--json").code == 1, "nothing left to transfer"


def test_code_change_is_transferred_by_the_sync_when_the_district_allows(cli, district, tmp_path):
    active_maria(cli, district, tmp_path)
    assert cli("district", "set", district.slug, "--auto-transfer", "on", "--json").json["district"][
        "auto_transfer"
    ]
    _, doc = rekey(cli, district, tmp_path)
    assert doc["counts"]["identity"] == {"strong": 1, "weak": 0, "transferred": 1}
    accounts = accounts_by_person(cli, district.slug)
    assert (accounts["C2"]["state"], accounts["C2"]["username"]) == ("active", "maria")
    assert (accounts["C1"]["state"], accounts["C1"]["successor"]) == ("revoked", "C2")
    assert AuditEvent.objects.get(action="account.transferred_in").actor == "system:sync"


def test_a_dry_run_shows_the_transfer_the_sync_would_make(cli, district, tmp_path):
    active_maria(cli, district, tmp_path)
    cli("district", "set", district.slug, "--auto-transfer", "on", "--json")
    path = write_oneroster(tmp_path / "after", users=[kid("C2"), maria("C2")], orgs=ORGS)
    dry = cli("sync", district.slug, path, "--dry-run", "--json").json
    assert dry["counts"]["identity"]["transferred"] == 1
    (old,) = [move for move in dry["diff"] if move["person"] == "C1"]
    assert (old["from"], old["to"], old["reason"], old["successor"]) == (
        "active",
        "revoked",
        "superseded",
        "C2",
    )
    accounts = accounts_by_person(cli, district.slug)
    assert (accounts["C1"]["state"], accounts["C1"]["username"]) == ("active", "maria"), "nothing moved"


def test_a_weak_match_is_only_suggested(cli, district, tmp_path):
    active_maria(cli, district, tmp_path)
    cli("district", "set", district.slug, "--auto-transfer", "on", "--json")
    # New record: new e-mail address; only her name and phone carry over.
    _, doc = rekey(cli, district, tmp_path, email="m.lopez@work.example.com")
    assert [(m["old"], m["new"], m["strength"]) for m in doc["matches"]] == [("C1", "C2", "weak")]
    assert doc["counts"]["identity"]["transferred"] == 0
    accounts = accounts_by_person(cli, district.slug)
    assert (accounts["C1"]["state"], accounts["C1"]["reason"], accounts["C1"]["successor"]) == (
        "ready_to_revoke", "left_sis", None
    )  # fmt: skip
    suggested = cli("matches", district.slug, "--json").json["matches"]
    assert suggested == [{"old": "C1", "new": "C2", "strength": "weak", "score": 0.65,
                          "reasons": ["phone", "family name", "given name"], "transferred": False}]  # fmt: skip
    assert cli("transfer", district.slug, "C1", "C2", "--json").code == 0, "an admin may still confirm it"


def test_family_split_new_household_record_of_the_same_father_supersedes_the_old(cli, district, tmp_path):
    tom = {
        "role": "parent",
        "orgSourcedIds": "north",
        "givenName": "Tom",
        "familyName": "Lee",
        "email": "tom.lee@example.org",
    }
    mum = {"sourcedId": "mum", "role": "parent", "orgSourcedIds": "north", "givenName": "Amy", "familyName": "Lee",
           "email": "tom.lee@example.org"}  # the household shares one address  # fmt: skip
    kids = lambda dad: [  # noqa: E731
        {"sourcedId": k, "role": "student", "orgSourcedIds": "north", "agentSourcedIds": f"mum,{dad}"} for k in ("k1", "k2")
    ]  # fmt: skip
    cli("district", "set", district.slug, "--guard-minimum", "5", "--json")
    before = [*kids("dad"), mum, {"sourcedId": "dad", **tom}]
    cli("sync", district.slug, write_oneroster(tmp_path / "a", users=before, orgs=ORGS), "--json")
    cli("provision", district.slug, "--all", "--json")
    after = [*kids("dad2"), mum, {"sourcedId": "dad", **tom}, {"sourcedId": "dad2", **tom}]
    doc = cli("sync", district.slug, write_oneroster(tmp_path / "b", users=after, orgs=ORGS), "--json").json
    assert [(m["old"], m["new"], m["strength"]) for m in doc["matches"]] == [("dad", "dad2", "strong")], (
        "the mother shares the e-mail but is not the father's successor"
    )
    accounts = accounts_by_person(cli, district.slug)
    assert (accounts["dad"]["reason"], accounts["dad"]["successor"]) == ("superseded", "dad2")
    assert accounts["mum"]["state"] == "invited"


def assert_c2_took_over(cli, district, doc: dict) -> None:
    """The sync matched C1 to C2 on strong evidence, and C1's login waits for revocation as superseded by C2."""
    assert [(m["old"], m["new"], m["strength"]) for m in doc["matches"]] == [("C1", "C2", "strong")]
    old = accounts_by_person(cli, district.slug)["C1"]
    assert (old["state"], old["reason"], old["successor"]) == ("ready_to_revoke", "superseded", "C2")


def test_a_new_record_arriving_a_night_after_the_old_one_left_still_takes_over(cli, district, tmp_path):
    """The old login already waits for revocation (left_sis, no successor) when its successor appears."""
    active_maria(cli, district, tmp_path)
    cli("sync", district.slug, write_oneroster(tmp_path / "gone", users=[kid()], orgs=ORGS), "--json")
    old = accounts_by_person(cli, district.slug)["C1"]
    assert (old["state"], old["reason"], old["successor"]) == ("ready_to_revoke", "left_sis", None)
    _, doc = rekey(cli, district, tmp_path)
    assert_c2_took_over(cli, district, doc)


def test_a_new_record_listed_before_the_old_one_left_is_still_its_successor(cli, district, tmp_path):
    """The SIS adds the new record first (both linked for a while), then drops the old one."""
    active_maria(cli, district, tmp_path)
    both = write_oneroster(tmp_path / "both", users=[kid("C1", "C2"), maria("C1"), maria("C2")], orgs=ORGS)
    cli("sync", district.slug, both, "--json")
    assert accounts_by_person(cli, district.slug)["C2"]["state"] == "ready_to_provision"
    _, doc = rekey(cli, district, tmp_path)
    assert_c2_took_over(cli, district, doc)


def test_a_full_resync_of_the_same_snapshot_keeps_the_successor_and_changes_nothing(cli, district, tmp_path):
    """A full re-plan sees C1's record gone (left_sis) but keeps the superseded reason and its successor."""
    active_maria(cli, district, tmp_path)
    path, _ = rekey(cli, district, tmp_path)
    for _ in range(2):
        doc = cli("sync", district.slug, path, "--full", "--json").json
        assert doc["counts"]["accounts"]["ready_to_revoke"] == 0, "the same snapshot moves nobody"
        old = accounts_by_person(cli, district.slug)["C1"]
        assert (old["state"], old["reason"], old["successor"]) == ("ready_to_revoke", "superseded", "C2")


def test_a_login_in_use_moves_to_an_unmatched_record_only_when_the_admin_says_they_are_one_person(
    cli, district, tmp_path
):
    """Two parents of one child, both still in the SIS: a mistyped code must not hand one's password to the
    other's record and children."""
    other = {"sourcedId": "C9", "role": "parent", "orgSourcedIds": "north", "givenName": "Pedro",
             "familyName": "Lopez", "email": "pedro@example.org"}  # fmt: skip
    active_maria(cli, district, tmp_path)
    path = write_oneroster(tmp_path / "two", users=[kid("C1", "C9"), maria("C1"), other], orgs=ORGS)
    cli("sync", district.slug, path, "--json")
    refused = cli("transfer", district.slug, "C1", "C9", "--json")
    assert refused.code == 1 and "no sync found C9 to be the same person" in refused.json["error"]
    assert accounts_by_person(cli, district.slug)["C1"]["username"] == "maria"
    assert cli("transfer", district.slug, "C1", "C9", "--same-person", "--json").code == 0
    assert accounts_by_person(cli, district.slug)["C9"]["username"] == "maria"
