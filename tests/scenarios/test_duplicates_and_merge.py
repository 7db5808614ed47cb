"""DOMAIN.md scenario 5: two siblings whose mother was entered as two contact records. Detected as likely
duplicates (the father sharing the household e-mail is not), merged in one action, after which one login sees
both children — and the next sync, narrowed or full, does not undo the merge."""

from __future__ import annotations

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account
from schoolgate.core.models import AuditEvent
from schoolgate.people.models import Link, Person
from tests.builders import write_oneroster
from tests.sync.helpers import accounts_by_person

ORGS = [{"sourcedId": "north", "type": "school"}, {"sourcedId": "south", "type": "school"}]


def users() -> list[dict]:
    rosa = {"role": "parent", "givenName": "Rosa", "email": "diaz.family@example.org"}
    return [
        {"sourcedId": "k1", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": "rosa1,luis"},
        {"sourcedId": "k2", "role": "student", "orgSourcedIds": "south", "agentSourcedIds": "rosa2,luis"},
        {"sourcedId": "rosa1", "orgSourcedIds": "north", "familyName": "Díaz", **rosa},
        {"sourcedId": "rosa2", "orgSourcedIds": "south", "familyName": "Diaz", **rosa, "phone": "555 0100"},
        {"sourcedId": "luis", "role": "parent", "orgSourcedIds": "north", "givenName": "Luis", "familyName": "Diaz",
         "email": "diaz.family@example.org"},
    ]  # fmt: skip


def test_sibling_duplicates_are_merged_and_the_merge_survives_resync(cli, district, tmp_path):
    path = write_oneroster(tmp_path, users=users(), orgs=ORGS)
    assert cli("sync", district.slug, path, "--json").json["status"] == "applied"
    cli("provision", district.slug, "--all", "--json")
    account = Account.objects.get(person__sis_code="rosa1")
    lifecycle.activate_account(account, username="rosa", password="a long passphrase", actor="portal")
    before = accounts_by_person(cli, district.slug)
    assert (before["rosa1"]["students"], before["rosa2"]["students"]) == (["k1"], ["k2"]), (
        "one child per login"
    )

    pairs = cli("duplicates", district.slug, "--json").json["pairs"]
    assert pairs == [{"keep": "rosa1", "drop": "rosa2", "score": 0.9,
                      "reasons": ["email", "family name", "given name"]}]  # fmt: skip

    merged = cli("merge", district.slug, "rosa1", "rosa2", "--json")
    assert merged.code == 0, merged.stdout
    assert merged.json["merged"] == {"keep": "rosa1", "drop": "rosa2", "students_moved": ["k2"],
                                     "login_transferred": False}  # fmt: skip
    after = accounts_by_person(cli, district.slug)
    assert (after["rosa1"]["state"], after["rosa1"]["students"]) == ("active", ["k1", "k2"]), (
        "one login, both children"
    )
    assert (after["rosa2"]["state"], after["rosa2"]["reason"], after["rosa2"]["successor"]) == (
        "ready_to_revoke", "superseded", "rosa1"
    ), "her second (never used) welcome waits for revocation"  # fmt: skip
    event = AuditEvent.objects.get(district=district, action="person.merged")
    assert event.after["aliases"] == ["rosa2"] and event.after["students_moved"] == ["k2"]
    assert Person.objects.get(sis_code="rosa2").merged_into.sis_code == "rosa1", "history keeps both codes"
    assert cli("duplicates", district.slug, "--json").json["pairs"] == []

    for flags in ((), ("--full",)):
        resync = cli("sync", district.slug, path, "--json", *flags)
        assert resync.json["status"] == "applied", resync.stdout
        assert accounts_by_person(cli, district.slug)["rosa1"]["students"] == ["k1", "k2"]
        assert not Link.objects.filter(contact__sis_code="rosa2").exists(), "no link recreated on the alias"
        assert resync.json["counts"]["links"]["added"] == 0


def test_merge_carries_the_only_login_over_and_rejects_nonsense(cli, district, tmp_path):
    cli("sync", district.slug, write_oneroster(tmp_path, users=users(), orgs=ORGS), "--json")
    account = Account.objects.get(person__sis_code="rosa2")
    lifecycle.provision_account(account, actor="test")
    lifecycle.activate_account(account, username="rosa", password="a long passphrase", actor="portal")
    result = cli("merge", district.slug, "rosa1", "rosa2", "--json").json["merged"]
    assert result["login_transferred"] is True
    accounts = accounts_by_person(cli, district.slug)
    assert (accounts["rosa1"]["username"], accounts["rosa1"]["students"]) == ("rosa", ["k1", "k2"])
    assert cli("merge", district.slug, "rosa1", "rosa2", "--json").code == 1, "already merged"
    assert cli("merge", district.slug, "k1", "luis", "--json").code == 1, "students are not merged"
    assert cli("merge", district.slug, "luis", "nobody", "--json").code == 1


def test_a_change_to_one_merged_record_restages_its_whole_group(cli, district, tmp_path):
    """The records of a merged group are mirrored together: when the SIS changes only the alias (or only the
    record kept), a narrowed sync stages both, and the kept login still sees both children."""
    day1 = write_oneroster(tmp_path / "day1", users=users(), orgs=ORGS)
    cli("sync", district.slug, day1, "--json")
    assert cli("merge", district.slug, "rosa1", "rosa2", "--json").code == 0
    settled = cli("sync", district.slug, day1, "--json")  # a merge restages both records once
    assert settled.json["counts"]["staged"]["people"] == 2
    assert cli("sync", district.slug, day1, "--json").json["counts"]["staged"]["people"] == 0
    changed = users()
    changed[3]["phone"] = "555 0199"  # rosa2, the alias, and nobody else
    resync = cli(
        "sync", district.slug, write_oneroster(tmp_path / "day2", users=changed, orgs=ORGS), "--json"
    )
    assert resync.json["status"] == "applied", resync.stdout
    assert resync.json["counts"]["staged"]["people"] == 2, "the alias and the record it was merged into"
    assert accounts_by_person(cli, district.slug)["rosa1"]["students"] == ["k1", "k2"]
    assert Person.objects.get(district=district, sis_code="rosa2").phone == "555 0199"
    changed[2]["phone"] = "555 0142"  # now rosa1, the record kept, and nobody else
    again = cli("sync", district.slug, write_oneroster(tmp_path / "day3", users=changed, orgs=ORGS), "--json")
    assert again.json["counts"]["staged"]["people"] == 2
    assert accounts_by_person(cli, district.slug)["rosa1"]["students"] == ["k1", "k2"]


def test_a_merged_alias_that_then_leaves_the_sis_stays_superseded_by_the_record_kept(cli, district, tmp_path):
    cli("sync", district.slug, write_oneroster(tmp_path / "a", users=users(), orgs=ORGS), "--json")
    cli("provision", district.slug, "--all", "--json")
    account = Account.objects.get(person__sis_code="rosa1")
    lifecycle.activate_account(account, username="rosa", password="a long passphrase", actor="portal")
    assert cli("merge", district.slug, "rosa1", "rosa2", "--json").code == 0
    gone = [u for u in users() if u["sourcedId"] != "rosa2"]
    gone[1]["agentSourcedIds"] = "rosa1,luis"
    resync = cli("sync", district.slug, write_oneroster(tmp_path / "b", users=gone, orgs=ORGS), "--json")
    assert resync.json["status"] == "applied", resync.stdout
    assert not Person.objects.get(district=district, sis_code="rosa2").in_sis
    alias = accounts_by_person(cli, district.slug)["rosa2"]
    assert (alias["state"], alias["reason"], alias["successor"]) == ("ready_to_revoke", "superseded", "rosa1")


def test_merging_a_duplicate_staff_record_takes_its_own_login_away(cli, district, tmp_path):
    """Staff get a login by rule, without any link: a merged record must lose it all the same."""
    teacher = {"role": "teacher", "orgSourcedIds": "north", "givenName": "Ines", "familyName": "Ortiz"}
    staff = [{"sourcedId": "t1", **teacher}, {"sourcedId": "t2", **teacher}]
    cli("sync", district.slug, write_oneroster(tmp_path, users=staff, orgs=ORGS), "--json")
    assert accounts_by_person(cli, district.slug).keys() == {"t1", "t2"}
    merged = cli("merge", district.slug, "t1", "t2", "--json")
    assert merged.code == 0, merged.stdout
    assert accounts_by_person(cli, district.slug).keys() == {"t1"}, "the alias's unused listing is withdrawn"


def test_the_sis_keeping_the_dropped_code_keeps_the_merged_login(cli, district, tmp_path):
    """After a merge the district may clean up the other way round: delete the kept code in the SIS and go on
    with the dropped one. The guardian is still in the SIS (through the alias, whose links map onto the kept
    record), so their login stays."""
    cli("sync", district.slug, write_oneroster(tmp_path / "a", users=users(), orgs=ORGS), "--json")
    cli("provision", district.slug, "rosa1", "--json")
    assert cli("merge", district.slug, "rosa1", "rosa2", "--json").code == 0
    cleaned = [u for u in users() if u["sourcedId"] != "rosa1"]
    cleaned[0] = {**cleaned[0], "agentSourcedIds": "rosa2,luis"}  # k1 now names the code the SIS kept
    doc = cli("sync", district.slug, write_oneroster(tmp_path / "b", users=cleaned, orgs=ORGS), "--json")
    assert doc.json["status"] == "applied", doc.stdout
    rosa = accounts_by_person(cli, district.slug)["rosa1"]
    assert (rosa["state"], rosa["reason"], rosa["students"]) == ("invited", None, ["k1", "k2"])
    gone = [u for u in cleaned if u["sourcedId"] != "rosa2"]
    gone = [{**u, "agentSourcedIds": "luis"} if u["role"] == "student" else u for u in gone]
    cli("district", "set", district.slug, "--guard-minimum", "5", "--json")
    cli("sync", district.slug, write_oneroster(tmp_path / "c", users=gone, orgs=ORGS), "--json")
    rosa = accounts_by_person(cli, district.slug)["rosa1"]
    assert (rosa["state"], rosa["reason"]) == ("ready_to_revoke", "left_sis"), "both codes gone: she left"
