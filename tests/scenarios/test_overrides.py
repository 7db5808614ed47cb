"""Overrides that survive sync (issue 3, item 4), and per-student permissions (item 3), through the CLI."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account
from schoolgate.core.models import AuditEvent
from schoolgate.people.models import EligibilityRule, Override
from tests.builders import write_oneroster
from tests.sync.helpers import accounts_by_person

ORGS = [{"sourcedId": "north", "type": "school"}]
USERS = [
    {"sourcedId": "kid", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": "mum,aunt"},
    {"sourcedId": "sib", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": "mum"},
    {"sourcedId": "mum", "role": "parent", "orgSourcedIds": "north"},
    {"sourcedId": "aunt", "role": "relative", "orgSourcedIds": "north"},
]


def person(cli, slug, code):
    result = cli("person", slug, code, "--json")
    assert result.code == 0, result.stdout
    return result.json


def link_to(doc, other):
    return next(link for link in doc["links"] if other in (link.get("student"), link.get("contact")))


def test_portal_override_survives_sync_and_is_reported(cli, district, tmp_path):
    path = write_oneroster(tmp_path, users=USERS, orgs=ORGS)
    assert cli("sync", district.slug, path, "--json").json["status"] == "applied"
    assert "aunt" not in accounts_by_person(cli, district.slug), "relatives get no access by rule"

    result = cli(
        "override", "set", district.slug, "aunt", "kid", "--field", "portal", "--value", "on",
        "--reason", "court order 2026-114: aunt is the carer", "--json",
    )  # fmt: skip
    assert result.code == 0, result.stdout
    override_id = result.json["override"]["id"]
    assert accounts_by_person(cli, district.slug)["aunt"]["students"] == ["kid"], "in force at once"
    event = AuditEvent.objects.get(district=district, action="override.set")
    assert event.after["value"] is True and "court order" in event.after["reason"] and event.before is None

    resync = cli("sync", district.slug, path, "--json").json
    assert resync["counts"]["overrides"] == {"sis_disagrees": 1}
    assert any("override kept: aunt → kid portal is forced on" in w["message"] for w in resync["warnings"])
    link = link_to(person(cli, district.slug, "aunt"), "kid")
    assert (link["portal_flag"], link["rule_flag"], link["flag_rule"]) == (True, False, "relatives-no-access")
    assert accounts_by_person(cli, district.slug)["aunt"]["students"] == ["kid"], "the sync kept the override"

    listed = cli("override", "list", district.slug, "--json").json["overrides"]
    assert [(o["id"], o["contact"], o["field"], o["value"]) for o in listed] == [
        (override_id, "aunt", "portal", True)
    ]

    removed = cli("override", "remove", district.slug, str(override_id), "--json")
    assert removed.code == 0 and removed.json["override"]["removed_at"]
    assert "aunt" not in accounts_by_person(cli, district.slug), "back to the rules: withdrawn"
    assert AuditEvent.objects.filter(district=district, action="override.removed").count() == 1
    assert cli("override", "list", district.slug, "--json").json["overrides"] == []
    text = cli("override", "list", district.slug)
    assert text.code == 0 and "No overrides in force." in text.stdout, "the text form of an empty list too"


def test_section_override_and_sibling_added_without_touching_the_first_child(cli, district, tmp_path):
    first = [u for u in USERS if u["sourcedId"] != "sib"]
    cli("sync", district.slug, write_oneroster(tmp_path / "a", users=first, orgs=ORGS), "--json")
    mum = Account.objects.get(district=district, person__sis_code="mum")
    lifecycle.provision_account(mum, actor="test")
    lifecycle.activate_account(mum, username="mum", password="a long passphrase", actor="portal")
    assert link_to(person(cli, district.slug, "mum"), "kid")["sections"] == [
        "reports", "assessments", "timetable", "attendance", "courses"
    ]  # fmt: skip
    assert cli(
        "override", "set", district.slug, "mum", "kid", "--field", "reports", "--value", "off",
        "--reason", "reports withheld pending fee dispute", "--json",
    ).code == 0  # fmt: skip
    # A sibling arrives: mum gets the new child without any change to the first child's access.
    result = cli("sync", district.slug, write_oneroster(tmp_path / "b", users=USERS, orgs=ORGS), "--json")
    assert result.json["status"] == "applied"
    mum = person(cli, district.slug, "mum")
    assert link_to(mum, "kid")["sections"] == ["assessments", "timetable", "attendance", "courses"]
    assert link_to(mum, "sib")["sections"] == ["reports", "assessments", "timetable", "attendance", "courses"]
    accounts = accounts_by_person(cli, district.slug)
    assert (accounts["mum"]["state"], accounts["mum"]["students"]) == ("active", ["kid", "sib"])
    assert (
        not AuditEvent.objects.filter(target_label="mum", action__startswith="account.")
        .exclude(action__in=["account.listed", "account.provisioned", "account.activated"])
        .exists()
    ), "the active guardian's login was not touched"


def test_expired_override_hands_back_to_the_rules_at_the_next_sync(cli, district, tmp_path):
    path = write_oneroster(tmp_path, users=USERS, orgs=ORGS)
    cli("sync", district.slug, path, "--json")
    until = (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%d")
    assert cli(
        "override", "set", district.slug, "aunt", "kid", "--field", "portal", "--value", "on",
        "--reason", "temporary carer", "--until", until, "--json",
    ).code == 0  # fmt: skip
    assert "aunt" in accounts_by_person(cli, district.slug)
    Override.objects.filter(district=district).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert cli("sync", district.slug, path, "--json").json["counts"]["overrides"] == {"sis_disagrees": 0}
    assert "aunt" not in accounts_by_person(cli, district.slug)


def test_override_input_is_checked(cli, district, tmp_path):
    cli("sync", district.slug, write_oneroster(tmp_path, users=USERS, orgs=ORGS), "--json")
    base = ["override", "set", district.slug]
    assert (
        cli(*base, "aunt", "sib", "--field", "portal", "--value", "on", "--reason", "x", "--json").code == 1
    )
    assert (
        cli(*base, "aunt", "kid", "--field", "portal", "--value", "on", "--reason", " ", "--json").code == 1
    )
    assert cli(*base, "aunt", "kid", "--field", "portal", "--value", "on", "--reason", "x", "--until",
               "2020-01-01", "--json").code == 1  # fmt: skip
    assert cli(*base, "aunt", "kid", "--field", "grades", "--value", "on", "--reason", "x").code == 2
    assert Override.objects.count() == 0


def test_a_forced_portal_gives_no_access_to_a_student_who_left_the_sis(cli, district, tmp_path):
    """An override forces the flag on a link; it never keeps a contact in for a student the SIS dropped (the
    link itself stays, declared by the aunt's own row)."""
    cli("district", "set", district.slug, "--guard-minimum", "5", "--json")
    both_ends = [u | {"agentSourcedIds": "kid"} if u["sourcedId"] == "aunt" else u for u in USERS]
    cli("sync", district.slug, write_oneroster(tmp_path / "a", users=both_ends, orgs=ORGS), "--json")
    assert cli(
        "override", "set", district.slug, "aunt", "kid", "--field", "portal", "--value", "on",
        "--reason", "court order: aunt is the carer", "--json",
    ).code == 0  # fmt: skip
    cli("provision", district.slug, "aunt", "--json")
    assert accounts_by_person(cli, district.slug)["aunt"]["state"] == "invited"
    left = write_oneroster(
        tmp_path / "b",
        mode="delta",
        orgs=ORGS,
        users=[{"sourcedId": "kid", "role": "student", "orgSourcedIds": "north", "status": "tobedeleted"}],
    )
    assert cli("sync", district.slug, left, "--json").json["status"] == "applied"
    assert person(cli, district.slug, "aunt")["links"][0]["in_sis"]
    aunt = accounts_by_person(cli, district.slug)["aunt"]
    assert (aunt["state"], aunt["reason"], aunt["students"]) == ("ready_to_revoke", "no_students", [])


def test_a_section_forced_on_is_granted_beyond_the_rules_and_reported_as_a_disagreement(
    cli, district, tmp_path
):
    EligibilityRule.objects.create(
        district=district, audience="contact", position=5, name="relatives-attendance", effect="allow",
        conditions={"relationship": ["relative"]}, sections=["attendance"],
    )  # fmt: skip
    path = write_oneroster(tmp_path, users=USERS, orgs=ORGS)
    cli("sync", district.slug, path, "--json")
    assert link_to(person(cli, district.slug, "aunt"), "kid")["sections"] == ["attendance"]
    assert cli(
        "override", "set", district.slug, "aunt", "kid", "--field", "reports", "--value", "on",
        "--reason", "aunt signs the school reports", "--json",
    ).code == 0  # fmt: skip
    assert link_to(person(cli, district.slug, "aunt"), "kid")["sections"] == ["reports", "attendance"]
    resync = cli("sync", district.slug, path, "--json").json
    assert resync["counts"]["overrides"] == {"sis_disagrees": 1}, "the rules still say no reports"
    assert link_to(person(cli, district.slug, "aunt"), "kid")["sections"] == ["reports", "attendance"]


def test_an_override_ends_at_its_end_date_not_at_the_next_sync(cli, district, tmp_path):
    """Temporary access ("grandma picks up this week") ends on its date: the worker's run at that time hands
    the field back to the rules and reconciles the account, with no sync in between."""
    from schoolgate.accounts.overrides import next_expiry
    from schoolgate.accounts.portal_data import visible_students
    from schoolgate.accounts.tasks import expire_overrides

    cli("sync", district.slug, write_oneroster(tmp_path, users=USERS, orgs=ORGS), "--json")
    until = (timezone.localdate() + timedelta(days=2)).isoformat()
    cli("override", "set", district.slug, "aunt", "kid", "--field", "portal", "--value", "on",
        "--reason", "grandma picks up this week", "--until", until, "--json")  # fmt: skip
    aunt = Account.objects.get(district=district, person__sis_code="aunt")
    lifecycle.provision_account(aunt, actor="test")
    lifecycle.activate_account(Account.objects.get(pk=aunt.pk), username="aunt", password="plum tree 42 harbour",
                               actor="test")  # fmt: skip
    aunt = Account.objects.get(pk=aunt.pk)
    assert [s.code for s in visible_students(aunt)] == ["kid"]
    override = Override.objects.get(link__contact__sis_code="aunt")
    assert next_expiry() == override.expires_at
    assert expire_overrides.call() == 0, "not yet"

    Override.objects.filter(pk=override.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )  # time passes
    assert expire_overrides.call() == 1
    aunt = Account.objects.get(pk=aunt.pk)
    assert visible_students(aunt) == [] and (aunt.state, aunt.reason) == ("ready_to_revoke", "flag_removed")
    event = AuditEvent.objects.get(district=district, action="override.expired")
    assert event.actor == "system:expiry" and event.target_label == "aunt → kid"
    assert Override.objects.get(pk=override.pk).removed_by == "system:expiry"
    assert next_expiry() is None and expire_overrides.call() == 0, "nothing left to expire"
