"""DOMAIN.md scenarios 1 (rollover) and 3 (family split), end to end through the CLI contract.

Given a district synced from its SIS, with welcome emails sent and accounts activated (the activation itself
is the portal's job; here the guardians activate through the same domain function it will call), when the
next SIS export arrives, then each account lands in the state and reason the scenario promises.
"""

from __future__ import annotations

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account
from schoolgate.core.models import AuditEvent
from tests.builders import write_oneroster
from tests.sync.helpers import accounts_by_person

ORGS = [{"sourcedId": "north", "name": "North High", "type": "school"}]


def student(code: str, *parents: str) -> dict:
    return {
        "sourcedId": code,
        "role": "student",
        "orgSourcedIds": "north",
        "agentSourcedIds": ",".join(parents),
    }


def parent(code: str, role: str = "parent") -> dict:
    return {"sourcedId": code, "role": role, "orgSourcedIds": "north", "email": f"{code}@example.org"}


def welcome_and_activate_everyone(cli, slug: str) -> None:
    provisioned = cli("provision", slug, "--all", "--json")
    assert provisioned.code == 0, provisioned.stdout
    for account in Account.objects.filter(district__slug=slug, state="invited").select_related("person"):
        code = account.person.sis_code
        lifecycle.activate_account(account, username=code, password="correct horse battery", actor="portal")


def sync(cli, slug, path, *flags):
    return cli("sync", slug, path, "--json", *flags)


def test_rollover(cli, district, tmp_path):
    """Students leave at year end; contacts with no remaining students go to ready_to_revoke/no_students;
    contacts with a remaining child keep their login and lose only the child who left."""
    year1 = [
        student("grad", "mA", "dA"), parent("mA"), parent("dA"),  # an only child who graduates
        student("b1", "mB"), student("b2", "mB"), parent("mB"),  # one of two siblings graduates
        student("c1", "mC"), parent("mC"),  # nobody leaves
    ]  # fmt: skip
    assert sync(cli, district.slug, write_oneroster(tmp_path / "y1", users=year1, orgs=ORGS)).code == 0
    welcome_and_activate_everyone(cli, district.slug)
    assert accounts_by_person(cli, district.slug, "--state", "active").keys() == {
        "grad", "mA", "dA", "b1", "b2", "mB", "c1", "mC"
    }  # fmt: skip
    assert accounts_by_person(cli, district.slug)["mB"]["students"] == ["b1", "b2"]

    year2 = [u for u in year1 if u["sourcedId"] not in ("grad", "b1")]
    path = write_oneroster(tmp_path / "y2", users=year2, orgs=ORGS)

    # Four of eight active logins would go at once: far above the 5% guard. The run is held with its diff.
    held = sync(cli, district.slug, path)
    assert held.code == 3 and held.json["status"] == "held"
    assert {(m["person"], m["reason"]) for m in held.json["diff"] if m["to"] == "ready_to_revoke"} == {
        ("mA", "no_students"), ("dA", "no_students"), ("grad", "left_sis"), ("b1", "left_sis")
    }  # fmt: skip
    assert accounts_by_person(cli, district.slug, "--state", "active").keys() >= {"mA", "grad"}, (
        "nothing applied"
    )

    applied = sync(cli, district.slug, path, "--confirm")
    assert applied.code == 0 and applied.json["status"] == "applied"
    accounts = accounts_by_person(cli, district.slug)
    assert {code: (a["state"], a["reason"]) for code, a in accounts.items()} == {
        "grad": ("ready_to_revoke", "left_sis"),
        "mA": ("ready_to_revoke", "no_students"),
        "dA": ("ready_to_revoke", "no_students"),
        "b1": ("ready_to_revoke", "left_sis"),
        "b2": ("active", None),
        "mB": ("active", None),
        "c1": ("active", None),
        "mC": ("active", None),
    }
    assert accounts["mB"]["students"] == ["b2"], "keeps the login, loses only the child who left"
    assert accounts["mA"]["students"] == []

    revoked = cli("revoke", district.slug, "--all-ready", "--json")
    assert revoked.code == 0
    assert revoked.json["counts"] == {"revoked": 4, "skipped": 0}
    assert {r["person"] for r in revoked.json["results"]} == {"grad", "mA", "dA", "b1"}
    after = accounts_by_person(cli, district.slug, "--state", "revoked")
    assert set(after) == {"grad", "mA", "dA", "b1"}
    assert all(a["username"] is None for a in after.values()), "username and password removed"
    for code in after:
        event = AuditEvent.objects.get(district=district, action="account.revoked", target_label=code)
        assert event.before["username"] == code and event.after["state"] == "revoked"

    again = sync(cli, district.slug, path)
    assert again.json["counts"]["accounts"] == dict.fromkeys(
        ["ready_to_provision", "withdrawn", "ready_to_revoke", "restored", "reinstated"], 0
    ), "revoked accounts stay revoked: no re-listing, no churn"


def split_setup(cli, district, tmp_path, year1):
    # A small school: a single family's change must not need a confirmation every time.
    assert cli("district", "set", district.slug, "--guard-minimum", "5", "--json").code == 0
    assert sync(cli, district.slug, write_oneroster(tmp_path / "before", users=year1, orgs=ORGS)).code == 0
    welcome_and_activate_everyone(cli, district.slug)


def test_family_split_old_contact_without_students_is_revoked(cli, district, tmp_path):
    """A secondary household contact is created; the new record is provisioned, the old one has no students
    left and is flagged for revocation."""
    before = [student("k1", "mum", "dad"), student("k2", "mum", "dad"), parent("mum"), parent("dad")]
    split_setup(cli, district, tmp_path, before)

    after = [
        student("k1", "mum", "dad2"), student("k2", "mum", "dad2"), parent("mum"), parent("dad"),
        parent("dad2"),  # the SIS creates a record for the father's new household
    ]  # fmt: skip
    result = sync(cli, district.slug, write_oneroster(tmp_path / "after", users=after, orgs=ORGS))
    assert result.code == 0 and result.json["status"] == "applied"
    accounts = accounts_by_person(cli, district.slug)
    assert (accounts["dad"]["state"], accounts["dad"]["reason"]) == ("ready_to_revoke", "no_students")
    assert (accounts["dad2"]["state"], accounts["dad2"]["students"]) == ("ready_to_provision", ["k1", "k2"])
    assert (accounts["mum"]["state"], accounts["mum"]["students"]) == ("active", ["k1", "k2"])

    provisioned = cli("provision", district.slug, "dad2", "--json").json
    assert provisioned["results"] == [{"person": "dad2", "result": "provisioned"}]
    assert cli("revoke", district.slug, "--all-ready", "--json").json["counts"]["revoked"] == 1
    accounts = accounts_by_person(cli, district.slug)
    assert (accounts["dad"]["state"], accounts["dad2"]["state"]) == ("revoked", "invited")


def test_family_split_old_contact_with_a_remaining_student_keeps_the_login(cli, district, tmp_path):
    """The old record is revoked only if it has no students left."""
    before = [student("k1", "mum", "dad"), student("k2", "mum", "dad"), parent("mum"), parent("dad")]
    split_setup(cli, district, tmp_path, before)

    after = [
        student("k1", "mum", "dad2"), student("k2", "mum", "dad"), parent("mum"), parent("dad"), parent("dad2"),
    ]  # fmt: skip
    assert sync(cli, district.slug, write_oneroster(tmp_path / "after", users=after, orgs=ORGS)).code == 0
    accounts = accounts_by_person(cli, district.slug)
    assert (accounts["dad"]["state"], accounts["dad"]["students"]) == ("active", ["k2"])
    assert (accounts["dad2"]["state"], accounts["dad2"]["students"]) == ("ready_to_provision", ["k1"])
    assert accounts_by_person(cli, district.slug, "--state", "ready_to_revoke") == {}


def test_a_parent_whose_only_child_is_disabled_waits_for_revocation_as_no_students(cli, district, tmp_path):
    """A disabled child counts as no child: the parent's reason is no_students, not a rule's flag."""
    split_setup(cli, district, tmp_path, [student("k1", "mum"), parent("mum")])
    disabled = [student("k1", "mum") | {"enabledUser": "false"}, parent("mum")]
    result = sync(cli, district.slug, write_oneroster(tmp_path / "after", users=disabled, orgs=ORGS))
    assert result.json["status"] == "applied", result.stdout
    accounts = accounts_by_person(cli, district.slug)
    assert (accounts["mum"]["state"], accounts["mum"]["reason"]) == ("ready_to_revoke", "no_students")
    assert (accounts["k1"]["state"], accounts["k1"]["reason"]) == ("ready_to_revoke", "flag_removed")
