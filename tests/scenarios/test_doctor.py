"""DOMAIN.md scenario 7: "parent can log in but sees no child" / "sees one child but not the other" — the doctor
walks the chain and proposes the fix, for every finding code; fixes that are transitions are applied from the
doctor and audited like any other door."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account, Invitation
from schoolgate.core import audit
from schoolgate.core.models import AuditEvent
from schoolgate.people.models import Person
from tests.builders import write_oneroster

ORGS = [{"sourcedId": "north", "type": "school"}]


def parent(code: str, given: str, family: str, email: str = "", role: str = "parent", **more) -> dict:
    return {"sourcedId": code, "role": role, "orgSourcedIds": "north", "givenName": given, "familyName": family,
            "email": email or f"{code}@example.org", **more}  # fmt: skip


def student(code: str, *agents: str, **more) -> dict:
    return {"sourcedId": code, "role": "student", "orgSourcedIds": "north", "givenName": code.title(),
            "familyName": "Kid", "agentSourcedIds": ",".join(agents), **more}  # fmt: skip


USERS = [
    student("amy", "ann", "aunt"), parent("ann", "Ann", "Able"), parent("aunt", "Ada", "Able", role="relative"),
    student("ben", "bea"), student("bo", "bea2"),  # siblings whose mother was entered twice
    parent("bea", "Bea", "Bell", "bell.home@example.org"), parent("bea2", "Bea", "Bell", "bell.home@example.org"),
    student("cal", "cat"), parent("cat", "Cat", "Cole"),
    parent("dan", "Dan", "Dunn"),  # linked to nobody
    student("gone", "gil", enabledUser="false"), parent("gil", "Gil", "Gray"),
    student("orphan"),  # no contact at all
]  # fmt: skip


@pytest.fixture
def school(cli, district, tmp_path):
    cli("district", "set", district.slug, "--guard-minimum", "50", "--json")
    assert cli("sync", district.slug, write_oneroster(tmp_path, users=USERS, orgs=ORGS), "--json").code == 0
    return district


def doctor(cli, district, *args: str) -> dict:
    result = cli("doctor", district.slug, *args, "--json")
    assert result.code == 0, result.stdout + result.stderr
    return result.json


def codes(doc: dict) -> list[str]:
    return [f["code"] for f in doc["findings"]]


def finding(doc: dict, code: str) -> dict:
    return next(f for f in doc["findings"] if f["code"] == code)


def activate(code: str, username: str | None = None) -> Account:
    account = Account.objects.get(person__sis_code=code)
    if account.state == "ready_to_provision":
        lifecycle.provision_account(account, actor="test")
    lifecycle.activate_account(account, username=username or code, password="a long passphrase", actor="test")
    account.refresh_from_db()
    return account


def test_every_finding_has_a_concrete_fix(cli, school):
    for args in (("--person", "ann"), ("--person", "dan"), ("--person", "orphan"), ("--username", "nobody")):
        for f in doctor(cli, school, *args)["findings"]:
            assert f["fix"]["description"] and f["fix"]["command"].startswith("schoolgate "), f


def test_not_provisioned_is_fixed_from_the_doctor(cli, school):
    # Reference: "Account information has not been entered. → Provision account."
    doc = doctor(cli, school, "--person", "ann")
    f = finding(doc, "not_provisioned")
    assert f["severity"] == "error" and f["fix"]["action"] == "provision" and f["fix"]["applicable"]
    fixed = doctor(cli, school, "--person", "ann", "--apply", "not_provisioned")
    assert fixed["applied"] == {"finding": "not_provisioned", "action": "provision", "person": "ann"}
    assert codes(fixed) == ["never_activated"]
    assert AuditEvent.objects.get(action="account.provisioned", target_label="ann").actor.startswith("cli:")


def test_never_activated_and_expired_welcome_are_resent(cli, school):
    cli("provision", school.slug, "ann", "--json")
    assert codes(doctor(cli, school, "--person", "ann")) == ["never_activated"]
    Invitation.objects.filter(account__person__sis_code="ann").update(
        expires_at=timezone.now() - timedelta(days=1)
    )
    assert codes(doctor(cli, school, "--person", "ann")) == ["invitation_expired"]
    doctor(cli, school, "--person", "ann", "--apply", "invitation_expired")
    assert codes(doctor(cli, school, "--person", "ann")) == ["never_activated"]
    assert Invitation.objects.filter(account__person__sis_code="ann", withdrawn_at__isnull=True).count() == 1
    assert AuditEvent.objects.filter(action="account.welcome_resent", target_label="ann").count() == 1


def test_active_login_points_at_the_password(cli, school):
    # Reference: "Incorrect password being typed. → Forgot your password link."
    activate("ann")
    doc = doctor(cli, school, "--username", "ANN")
    assert doc["subjects"] == ["ann"] and codes(doc) == ["check_password"]
    assert finding(doc, "check_password")["fix"]["action"] == "reset_password"


def test_locked_out_is_unlocked(cli, school):
    account = activate("ann")
    Account.objects.filter(pk=account.pk).update(
        failed_logins=5, locked_until=timezone.now() + timedelta(minutes=30)
    )
    assert codes(doctor(cli, school, "--person", "ann")) == ["locked_out"]
    assert codes(doctor(cli, school, "--person", "ann", "--apply", "locked_out")) == ["check_password"]
    assert AuditEvent.objects.get(action="account.unlocked").before["failed_logins"] == 5


def test_unknown_user_and_account_missing(cli, school):
    unknown = doctor(cli, school, "--username", "who.is.this")
    assert codes(unknown) == ["unknown_user"] and unknown["subjects"] == []
    dan = finding(doctor(cli, school, "--person", "dan"), "account_missing")
    assert "not linked to any student" in dan["message"]
    aunt = finding(doctor(cli, school, "--person", "aunt"), "account_missing")
    assert "relatives-no-access" in aunt["message"]


def test_flag_off_names_the_rule_and_override_in_force_is_reported(cli, school):
    # Reference: "No contact has been flagged for SEQTA Engage. → the sync rules are not being met."
    doc = doctor(cli, school, "--person", "aunt", "--student", "amy")
    f = finding(doc, "flag_off")
    assert "relatives-no-access" in f["message"] and "relationship: relative" in f["message"]
    cli("override", "set", school.slug, "aunt", "amy", "--field", "portal", "--value", "on", "--reason", "carer",
        "--json")  # fmt: skip
    doc = doctor(cli, school, "--person", "aunt", "--student", "amy")
    assert "flag_off" not in codes(doc) and "override_in_force" in codes(doc)
    assert "carer" in finding(doc, "override_in_force")["message"]


def test_permission_off_and_not_linked(cli, school):
    cli("override", "set", school.slug, "ann", "amy", "--field", "reports", "--value", "off", "--reason", "fees",
        "--json")  # fmt: skip
    doc = doctor(cli, school, "--person", "ann", "--student", "amy")
    assert "reports" in finding(doc, "permission_off")["message"]
    assert finding(doc, "override_in_force")["severity"] == "warning"
    assert "not_linked" in codes(doctor(cli, school, "--person", "ann", "--student", "cal"))


def test_student_checks(cli, school):
    assert "student_left" in codes(doctor(cli, school, "--person", "gil", "--student", "gone"))
    assert "no_flagged_contact" in codes(doctor(cli, school, "--person", "orphan"))


def test_duplicate_record_is_merged_from_the_doctor(cli, school):
    # "sees one child but not the other": the mother was entered once per sibling.
    activate("bea")
    doc = doctor(cli, school, "--person", "bea", "--student", "bo")
    assert {"duplicate_record", "not_linked"} <= set(codes(doc))
    assert finding(doc, "duplicate_record")["fix"]["command"] == f"schoolgate merge {school.slug} bea bea2"
    fixed = doctor(cli, school, "--person", "bea", "--student", "bo", "--apply", "duplicate_record")
    assert "not_linked" not in codes(fixed) and "duplicate_record" not in codes(fixed)
    assert AuditEvent.objects.filter(action="person.merged", target_label="bea").exists()
    assert codes(doctor(cli, school, "--person", "bea2"))[0] == "merged_record"


def test_ready_to_revoke_and_revoked(cli, school, tmp_path):
    # Reference: "Code 500 … → Revoke access to the old account. Provision the new account."
    activate("ann")
    unlinked = [
        student("amy", "aunt") if u["sourcedId"] == "amy" else u for u in USERS
    ]  # ann loses her child
    cli("sync", school.slug, write_oneroster(tmp_path / "again", users=unlinked, orgs=ORGS), "--json")
    doc = doctor(cli, school, "--person", "ann")
    assert codes(doc)[0] == "ready_to_revoke"
    assert "no eligible student left" in finding(doc, "ready_to_revoke")["message"]
    assert codes(doctor(cli, school, "--person", "ann", "--apply", "ready_to_revoke"))[0] == "revoked"
    assert AuditEvent.objects.get(action="account.revoked", target_label="ann").actor.startswith("cli:")
    activate("cat")
    lifecycle.revoke_account(Account.objects.get(person__sis_code="cat"), actor="test")
    assert codes(doctor(cli, school, "--person", "cat"))[0] == "revoked"
    doctor(cli, school, "--person", "cat", "--apply", "revoked")
    assert Account.objects.get(person__sis_code="cat").state == "invited"
    actions = list(
        AuditEvent.objects.filter(
            target_label="cat", action__in=["account.reinstated", "account.provisioned"]
        )
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == ["account.reinstated", "account.provisioned"]


def test_superseded_and_suggested_successors(cli, school, tmp_path):
    activate("cat")
    rekeyed = [u for u in USERS if u["sourcedId"] != "cat"] + [
        parent("cat2", "Cat", "Cole", "cat@example.org")
    ]
    rekeyed = [student("cal", "cat2") if u["sourcedId"] == "cal" else u for u in rekeyed]
    Person.objects.filter(sis_code="cat").update(email="cat@example.org")
    cli("sync", school.slug, write_oneroster(tmp_path / "b", users=rekeyed, orgs=ORGS), "--json")
    doc = doctor(cli, school, "--person", "cat")
    f = finding(doc, "superseded")
    assert "cat2" in f["message"] and f["fix"]["action"] == "transfer"
    after = doctor(cli, school, "--person", "cat", "--apply", "superseded")
    assert "revoked" in codes(after)
    assert Account.objects.get(person__sis_code="cat2").state == "active"
    # The old record's login moved on: nothing to list again there, so no fix to apply — the other record.
    fix = finding(after, "revoked")["fix"]
    assert (fix["action"], fix["applicable"]) == ("use_other_record", False) and "cat2" in fix["description"]


def test_weak_successor_is_suggested(cli, school, tmp_path):
    activate("ann")
    moved = [u for u in USERS if u["sourcedId"] != "ann"] + [parent("ann2", "Ann", "Able", "new@elsewhere.org",
                                                                   phone="555 222 3333")]  # fmt: skip
    moved = [student("amy", "ann2", "aunt") if u["sourcedId"] == "amy" else u for u in moved]
    Person.objects.filter(sis_code="ann").update(phone="555 222 3333")
    cli("sync", school.slug, write_oneroster(tmp_path / "c", users=moved, orgs=ORGS), "--json")
    doc = doctor(cli, school, "--person", "ann")
    assert "successor_suggested" in codes(doc) and "person_left_sis" in codes(doc)


def test_duplicate_username_and_bounced_email(cli, school, tmp_path):
    # Reference: "The same username has been used for more than one contact. → Revoke the old, provision the new."
    cli("district", "set", school.slug, "--username-source", "email", "--json")
    Person.objects.filter(sis_code="cat").update(email="shared@example.org")
    Person.objects.filter(sis_code="ann").update(email="shared@example.org")
    cli("provision", school.slug, "cat", "--json")
    cli("provision", school.slug, "ann", "--json")
    doc = doctor(cli, school, "--person", "ann")
    assert (
        "duplicate_username" in codes(doc) and "used by cat" in finding(doc, "duplicate_username")["message"]
    )
    cli("provision", school.slug, "bea", "--json")
    Person.objects.filter(sis_code="bea").update(
        email_bounced_at=timezone.now(), email_bounce_reason="550 no such user"
    )
    bea = Person.objects.get(sis_code="bea")
    audit.record(school, "system:mail", "person.email_bounced", target_type="person", target_id=bea.pk,
                 target_label="bea", after={"email": bea.email})  # as the mail sender records a bounce  # fmt: skip
    bounced = finding(doctor(cli, school, "--person", "bea"), "email_bounced")
    assert "550 no such user" in bounced["message"]
    assert (bounced["fix"]["action"], bounced["fix"]["applicable"]) == ("edit_sis", False), (
        "no resend to the address that bounced"
    )
    # The SIS corrects the address: the old bounce says nothing about the new one.
    Person.objects.filter(sis_code="bea").update(email="bea.new@example.org")
    assert "email_bounced" not in codes(doctor(cli, school, "--person", "bea"))


def test_person_disabled_and_left(cli, school):
    Person.objects.filter(sis_code="gil").update(enabled=False)
    assert "person_disabled" in codes(doctor(cli, school, "--person", "gil"))
    Person.objects.filter(sis_code="gil").update(in_sis=False)
    assert "person_left_sis" in codes(doctor(cli, school, "--person", "gil"))


def test_doctor_input_errors(cli, school):
    assert cli("doctor", school.slug, "--person", "nobody", "--json").code == 1
    assert cli("doctor", school.slug, "--person", "ann", "--student", "nobody", "--json").code == 1
    assert cli("doctor", school.slug, "--person", "ann", "--apply", "locked_out", "--json").code == 1
    assert cli("doctor", school.slug, "--json").code == 2
