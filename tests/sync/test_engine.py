"""The sync engine through the CLI contract: every importer path lands, bad input changes nothing, re-runs
write nothing, dry runs write nothing, the guard holds mass revocations, and a crash leaves the district as
it was."""

from __future__ import annotations

import pytest
from django.db import connection

from schoolgate.accounts import lifecycle, reconcile
from schoolgate.accounts.models import Account
from schoolgate.core.models import AuditEvent
from schoolgate.people.models import Link, Person
from schoolgate.sync.models import SyncRun
from tests.builders import write_oneroster, write_sds
from tests.sync.helpers import FIXTURES, accounts_by_person, district_state

ORGS = [{"sourcedId": "sch1", "name": "North High", "type": "school"}]


def users_11(n_families: int = 2) -> list[dict]:
    """Families f0…: student s{i} with parents m{i} (mother) and d{i} (father), plus an aunt for family 0."""
    users = []
    for i in range(n_families):
        users += [
            {
                "sourcedId": f"s{i}",
                "role": "student",
                "orgSourcedIds": "sch1",
                "agentSourcedIds": f"m{i}, d{i}",
            },
            {"sourcedId": f"m{i}", "role": "parent", "orgSourcedIds": "sch1", "email": f"m{i}@example.org"},
            {"sourcedId": f"d{i}", "role": "parent", "orgSourcedIds": "sch1"},
        ]
    users.append({"sourcedId": "aunt0", "role": "relative", "orgSourcedIds": "sch1", "agentSourcedIds": "s0"})
    users.append({"sourcedId": "t1", "role": "teacher", "orgSourcedIds": "sch1"})
    return users


def sync(cli, slug, path, *flags):
    return cli("sync", slug, path, "--json", *flags)


def test_oneroster_11_bulk_folder_imports_people_links_and_accounts(cli, district, tmp_path):
    result = sync(cli, district.slug, write_oneroster(tmp_path, users=users_11(), orgs=ORGS))
    assert result.code == 0, result.stdout + result.stderr
    doc = result.json
    assert doc["status"] == "applied" and doc["errors"] == [] and isinstance(doc["run"], int)
    assert doc["counts"]["people"]["added"] == 8 and doc["counts"]["links"]["added"] == 5
    aunt_link = Link.objects.get(contact__sis_code="aunt0")
    assert (aunt_link.relationship, aunt_link.portal_flag) == ("relative", False)
    assert Link.objects.get(contact__sis_code="m0").relationship == "parent"
    accounts = accounts_by_person(cli, district.slug)
    assert set(accounts) == {"s0", "s1", "m0", "d0", "m1", "d1", "t1"}, "the aunt is not eligible"
    assert accounts["m0"] == {
        "person": "m0", "kind": "contact", "state": "ready_to_provision", "reason": None,
        "successor": None, "username": None, "students": ["s0"],
    }  # fmt: skip


def test_zip_with_bom_crlf_and_spaced_agent_list(cli, district, tmp_path):
    path = write_oneroster(tmp_path / "set", users=users_11(1), orgs=ORGS, bom=True, crlf=True,
                           zip_to=tmp_path / "set.zip")  # fmt: skip
    assert str(path).endswith(".zip")
    result = sync(cli, district.slug, path)
    assert result.json["status"] == "applied", result.stdout
    assert accounts_by_person(cli, district.slug, "--kind", "contact").keys() == {"m0", "d0"}


def test_same_snapshot_twice_changes_nothing_and_writes_no_audit(cli, district, tmp_path):
    path = write_oneroster(tmp_path, users=users_11(), orgs=ORGS)
    first = sync(cli, district.slug, path)
    assert first.code == 0
    before = district_state(district)
    again = sync(cli, district.slug, path).json
    assert again["status"] == "applied"
    counts = again["counts"]
    assert counts["staged"] == {"people": 0, "unchanged": 8, "same_set_as_run": first.json["run"]}, "not read"
    assert all(v == 0 for name, c in counts.items() if name not in ("staged", "guard") for v in c.values())
    assert district_state(district) == before


def test_oneroster_12_roles_and_teacher_who_is_also_a_guardian(cli, district, tmp_path):
    users = [
        {"sourcedId": "kid", "agentSourcedIds": "teach"},
        {"sourcedId": "teach", "email": "teach@example.org"},
    ]
    roles = [
        {"sourcedId": "r1", "userSourcedId": "kid", "roleType": "primary", "role": "student", "orgSourcedId": "sch1"},
        {"sourcedId": "r2", "userSourcedId": "teach", "roleType": "primary", "role": "teacher", "orgSourcedId": "sch1"},
        {"sourcedId": "r3", "userSourcedId": "teach", "roleType": "secondary", "role": "guardian",
         "orgSourcedId": "sch1"},
    ]  # fmt: skip
    result = sync(
        cli, district.slug, write_oneroster(tmp_path, version="1.2", users=users, orgs=ORGS, roles=roles)
    )
    assert result.json["status"] == "applied", result.stdout
    teacher = Person.objects.get(sis_code="teach")
    assert (teacher.kind, teacher.roles) == ("staff", "guardian,teacher")
    link = Link.objects.get(contact=teacher)
    assert (link.relationship, link.portal_flag) == ("guardian", True)
    assert accounts_by_person(cli, district.slug)["teach"]["students"] == ["kid"]


def test_oneroster_12_fixture_with_header_typos_needs_tolerant(cli, district):
    path = FIXTURES / "or12-bulk-typos"
    strict = sync(cli, district.slug, path)
    assert strict.code == 1 and strict.json["status"] == "rejected"
    assert any(e["column"] == "prefferedGivenName" and e["line"] == 1 for e in strict.json["errors"])
    tolerant = sync(cli, district.slug, path, "--tolerant")
    assert tolerant.json["status"] == "applied" and tolerant.json["warnings"]
    assert Person.objects.get(sis_code="hl-u-100").roles.split(",") == ["guardian", "teacher"]


def test_delta_updates_only_what_it_names(cli, district, tmp_path):
    assert sync(cli, district.slug, write_oneroster(tmp_path / "bulk", users=users_11(), orgs=ORGS)).code == 0
    delta = write_oneroster(
        tmp_path / "delta",
        mode="delta",
        orgs=ORGS,
        users=[
            {"sourcedId": "m0", "role": "parent", "orgSourcedIds": "sch1", "email": "new@example.org"},
            {"sourcedId": "s1", "role": "student", "orgSourcedIds": "sch1", "status": "tobedeleted"},
            {"sourcedId": "s9", "role": "student", "orgSourcedIds": "sch1", "agentSourcedIds": "m0"},
        ],
    )
    doc = sync(cli, district.slug, delta, "--confirm").json
    assert doc["status"] == "applied", doc
    assert doc["counts"]["people"] == {"added": 1, "updated": 1, "removed": 1}
    assert Person.objects.get(sis_code="m0").email == "new@example.org"
    assert Person.objects.get(sis_code="d0").in_sis, "people the delta does not name are untouched"
    accounts = accounts_by_person(cli, district.slug)
    assert accounts["m0"]["students"] == ["s0", "s9"], "a sibling is added, never replacing the first child"
    assert "s1" not in accounts, "s1 left before being provisioned: withdrawn"


def test_delta_row_with_empty_agents_keeps_links_declared_by_the_other_end(cli, district, tmp_path):
    users = [
        {"sourcedId": "s0", "role": "student", "orgSourcedIds": "sch1"},
        {
            "sourcedId": "p0",
            "role": "parent",
            "orgSourcedIds": "sch1",
            "agentSourcedIds": "s0",
        },  # parent → student
        {"sourcedId": "s1", "role": "student", "orgSourcedIds": "sch1", "agentSourcedIds": "p1"},
        {"sourcedId": "p1", "role": "parent", "orgSourcedIds": "sch1"},
    ]
    assert sync(cli, district.slug, write_oneroster(tmp_path / "bulk", users=users, orgs=ORGS)).code == 0
    delta = write_oneroster(
        tmp_path / "delta", mode="delta", orgs=ORGS, users=[users[0], users[2] | {"agentSourcedIds": ""}]
    )
    assert sync(cli, district.slug, delta, "--confirm").json["status"] == "applied"
    assert Link.objects.get(student__sis_code="s0").in_sis, (
        "declared by the parent's row, which the delta did not carry"
    )
    assert not Link.objects.get(student__sis_code="s1").in_sis, "s1's own row no longer names p1"


def test_sds_sample_imports_guardians_but_not_relatives(cli, district):
    doc = sync(cli, district.slug, FIXTURES / "sds-v2.1").json
    assert doc["status"] == "applied", doc
    assert doc["format"] == "sds-2.1"
    links = {
        (link.student.sis_code, link.contact.sis_code): link
        for link in Link.objects.select_related("student", "contact")
    }
    assert links[("114001", "114002")].portal_flag and links[("114001", "114002")].relationship == "guardian"
    assert not links[("114003", "114002")].portal_flag, "relative"
    assert accounts_by_person(cli, district.slug)["114002"]["students"] == ["114001"]


def test_sds_built_set(cli, district, tmp_path):
    path = write_sds(
        tmp_path,
        orgs=[{"sourcedId": "o1", "name": "School", "type": "school"}],
        users=[{"sourcedId": "k"}, {"sourcedId": "g"}],
        roles=[{"userSourcedId": "k", "orgSourcedId": "o1", "role": "student"}],
        relationships=[
            {"userSourcedId": "k", "relationshipUserSourcedId": "g", "relationshipRole": "guardian"}
        ],
    )
    assert sync(cli, district.slug, path, "--format", "sds").json["status"] == "applied"
    assert accounts_by_person(cli, district.slug)["g"]["students"] == ["k"]


def test_broken_sample_is_rejected_precisely_and_changes_nothing(cli, district, tmp_path):
    assert sync(cli, district.slug, write_oneroster(tmp_path, users=users_11(), orgs=ORGS)).code == 0
    before = district_state(district)
    for flags in ((), ("--tolerant",)):
        result = sync(cli, district.slug, FIXTURES / "oneroster-mocker-example", *flags)
        assert result.code == 1
        doc = result.json
        assert doc["status"] == "rejected"
        where = {(e["file"], e["line"]) for e in doc["errors"]}
        assert ("users.csv", 1) in where and ("orgs.csv", 1) in where
        assert all(e["message"] for e in doc["errors"])
        assert district_state(district) == before
        assert SyncRun.objects.get(pk=doc["run"]).status == "rejected"


def test_unknown_agent_is_rejected_with_file_line_and_column(cli, district, tmp_path):
    assert sync(cli, district.slug, write_oneroster(tmp_path / "ok", users=users_11(), orgs=ORGS)).code == 0
    before = district_state(district)
    users = users_11()
    users[3]["agentSourcedIds"] = "m1, ghost"  # line 5 (header is line 1)
    doc = sync(cli, district.slug, write_oneroster(tmp_path / "bad", users=users, orgs=ORGS)).json
    assert doc["status"] == "rejected"
    assert doc["errors"][0] == {
        "file": "users.csv", "line": 5, "column": "agentSourcedIds",
        "message": "names 'ghost', which is not an active user in this set or the district",
    }  # fmt: skip
    assert district_state(district) == before


def test_dry_run_reports_the_diff_and_writes_nothing(cli, district, tmp_path):
    path = write_oneroster(tmp_path, users=users_11(), orgs=ORGS)
    runs = SyncRun.objects.count()
    before = district_state(district)
    result = sync(cli, district.slug, path, "--dry-run")
    assert result.code == 0
    doc = result.json
    assert doc["status"] == "dry_run" and doc["run"] is None
    assert doc["counts"]["people"]["added"] == 8
    assert {m["person"] for m in doc["diff"] if m["to"] == "ready_to_provision"} == {
        "s0", "s1", "m0", "d0", "m1", "d1", "t1"
    }  # fmt: skip
    assert {m["reason"] for m in doc["diff"]} == {None}, "only a move to ready_to_revoke carries a reason"
    assert district_state(district) == before and SyncRun.objects.count() == runs


def activate_all(district):
    from schoolgate.accounts import lifecycle

    for account in Account.objects.filter(district=district):
        lifecycle.provision_account(account, actor="test")
        lifecycle.activate_account(account, username=account.person.sis_code, password="x" * 12, actor="test")


def test_guard_holds_a_mass_revocation_until_confirmed(cli, district, tmp_path):
    users = users_11(40)
    assert sync(cli, district.slug, write_oneroster(tmp_path / "a", users=users, orgs=ORGS)).code == 0
    activate_all(district)  # 121 active accounts: 40 students, 80 parents, 1 teacher
    before = district_state(district)
    # A rule-like mistake: the SIS suddenly marks 10 families' parents as relatives.
    changed = [u | {"role": "relative"} if u["sourcedId"][:1] in "md" and int(u["sourcedId"][1:]) < 10 else u
               for u in users if u["sourcedId"] != "aunt0"]  # fmt: skip
    path = write_oneroster(tmp_path / "b", users=changed, orgs=ORGS)
    held = sync(cli, district.slug, path)
    assert held.code == 3
    doc = held.json
    assert doc["status"] == "held"
    assert doc["counts"]["guard"] == {"revoking": 20, "holding": 121, "share": 0.05, "tripped": True}
    flagged = {m["person"]: m["reason"] for m in doc["diff"] if m["to"] == "ready_to_revoke"}
    assert flagged == {f"{p}{i}": "flag_removed" for p in "md" for i in range(10)}
    assert SyncRun.objects.get(pk=doc["run"]).diff == doc["diff"]
    assert district_state(district) == before, "a held run applies nothing"

    confirmed = sync(cli, district.slug, path, "--confirm")
    assert confirmed.code == 0 and confirmed.json["status"] == "applied"
    assert SyncRun.objects.get(pk=doc["run"]).status == "confirmed"
    states = accounts_by_person(cli, district.slug, "--state", "ready_to_revoke")
    assert set(states) == set(flagged)
    assert (
        AuditEvent.objects.filter(
            action="account.flagged_for_revocation", run_id=confirmed.json["run"]
        ).count()
        == 20
    )


def test_a_held_run_is_not_confirmed_over_newer_files(cli, district, tmp_path):
    """Confirming a held run re-applies its files; once newer files were applied that would undo them."""
    from schoolgate.sync.decisions import Superseded, check_can_confirm
    from schoolgate.sync.engine import run_sync

    users = users_11(40)
    assert sync(cli, district.slug, write_oneroster(tmp_path / "a", users=users, orgs=ORGS)).code == 0
    activate_all(district)
    gone = {f"{p}{i}" for p in "smd" for i in range(10)} | {"aunt0"}  # ten families leave
    leaving = [u for u in users if u["sourcedId"] not in gone]
    held = sync(cli, district.slug, write_oneroster(tmp_path / "b", users=leaving, orgs=ORGS))
    assert held.json["status"] == "held"
    held_run = SyncRun.objects.get(pk=held.json["run"])
    check_can_confirm(held_run)  # nothing newer yet
    renamed = [u | {"givenName": "Valentyna"} if u["sourcedId"] == "m20" else u for u in users]
    newer = sync(cli, district.slug, write_oneroster(tmp_path / "c", users=renamed, orgs=ORGS))
    assert newer.json["status"] == "applied"
    before = district_state(district)

    with pytest.raises(Superseded, match=f"run {newer.json['run']} applied newer files"):
        check_can_confirm(held_run)
    # The engine checks again with the district locked, for a confirmation that was queued before the newer run.
    outcome = run_sync(district, held_run.source, confirm=True, confirming=held_run.pk)
    assert outcome.status == "rejected" and "applied newer files" in outcome.errors[0].message
    assert district_state(district) == before
    assert Person.objects.get(district=district, sis_code="m20").given_name == "Valentyna"
    assert SyncRun.objects.get(pk=held_run.pk).status == "held", "still there to be discarded"


def test_guard_respects_district_settings(cli, district, tmp_path):
    assert cli("district", "set", district.slug, "--guard-share", "2", "--json").code == 1
    result = cli("district", "set", district.slug, "--guard-share", "0.5", "--guard-minimum", "3", "--json")
    assert result.json["district"]["guard_share"] == 0.5
    assert AuditEvent.objects.filter(action="district.changed", district=district).count() == 1


def test_a_crash_mid_apply_leaves_the_district_as_it_was(cli, district, tmp_path, monkeypatch):
    assert sync(cli, district.slug, write_oneroster(tmp_path / "a", users=users_11(), orgs=ORGS)).code == 0
    before = district_state(district)

    def explode(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(reconcile, "apply", explode)
    users = [u for u in users_11() if u["sourcedId"] != "s1"]
    with pytest.raises(RuntimeError):
        sync(cli, district.slug, write_oneroster(tmp_path / "b", users=users, orgs=ORGS))
    assert district_state(district) == before
    run = SyncRun.objects.order_by("-pk").first()
    assert run.status == "failed" and "power cut" in run.errors[0]["message"]


def test_oneroster_12_delta_adding_a_guardian_role_keeps_the_teacher_staff(cli, district, tmp_path):
    """A 1.2 delta carries only the role rows that changed: kind and roles come from all the roles held."""
    users = [{"sourcedId": "kid"}, {"sourcedId": "teach"}]
    roles = [
        {"sourcedId": "r1", "userSourcedId": "kid", "roleType": "primary", "role": "student", "orgSourcedId": "sch1"},
        {"sourcedId": "r2", "userSourcedId": "teach", "roleType": "primary", "role": "teacher", "orgSourcedId": "sch1"},
    ]  # fmt: skip
    bulk = write_oneroster(tmp_path / "bulk", version="1.2", users=users, orgs=ORGS, roles=roles)
    assert sync(cli, district.slug, bulk).json["status"] == "applied"
    delta = write_oneroster(
        tmp_path / "delta",
        version="1.2",
        mode="delta",
        orgs=ORGS,
        users=[{"sourcedId": "kid", "agentSourcedIds": "teach"}],
        roles=[
            {"sourcedId": "r3", "userSourcedId": "teach", "roleType": "secondary", "role": "guardian",
             "orgSourcedId": "sch1"},
            {"sourcedId": "r1", "userSourcedId": "kid", "roleType": "primary", "role": "student",
             "orgSourcedId": "sch1"},
        ],
    )  # fmt: skip
    doc = sync(cli, district.slug, delta).json
    assert doc["status"] == "applied", doc
    teacher = Person.objects.get(district=district, sis_code="teach")
    assert (teacher.kind, teacher.roles) == ("staff", "guardian,teacher")
    link = Link.objects.get(district=district, contact=teacher)
    assert (link.relationship, link.portal_flag) == ("guardian", True)
    assert accounts_by_person(cli, district.slug)["teach"]["students"] == ["kid"]


@pytest.mark.parametrize(
    ("before", "after", "flag"), [("relative", "parent", True), ("parent", "relative", False)]
)
def test_oneroster_12_delta_of_roles_alone_re_infers_the_relationship(
    cli, district, tmp_path, before, after, flag
):
    """A delta carrying only roles.csv (users.csv absent) declares no links, but a contact's new role decides
    the relationship inferred for their links, and with it access: a relative made a parent gets access, a
    parent made a relative loses it — as the same change with a users.csv row did."""
    users = [{"sourcedId": "kid", "agentSourcedIds": "gran"}, {"sourcedId": "gran"}]
    roles = [
        {"sourcedId": "r1", "userSourcedId": "kid", "role": "student", "orgSourcedId": "sch1"},
        {"sourcedId": "r2", "userSourcedId": "gran", "role": before, "orgSourcedId": "sch1"},
    ]  # fmt: skip
    assert sync(cli, district.slug, write_oneroster(tmp_path / "bulk", version="1.2", users=users, orgs=ORGS,
                                                    roles=roles)).json["status"] == "applied"  # fmt: skip
    delta = write_oneroster(
        tmp_path / "delta", version="1.2", mode="delta", orgs=[], users=[],
        roles=[{"sourcedId": "r2", "status": "tobedeleted", "userSourcedId": "gran", "role": before,
                "orgSourcedId": "sch1"},
               {"sourcedId": "r3", "userSourcedId": "gran", "role": after, "orgSourcedId": "sch1"}],
    )  # fmt: skip
    doc = sync(cli, district.slug, delta).json
    assert doc["status"] == "applied", doc
    link = Link.objects.get(district=district, contact__sis_code="gran")
    assert (link.relationship, link.portal_flag) == (after, flag)
    assert ("gran" in accounts_by_person(cli, district.slug)) is flag


def test_the_guard_counts_only_logins_in_use_and_a_new_reason_is_no_new_revocation(cli, district, tmp_path):
    """The guard's base is invited and active accounts; an account already waiting for revocation that gets a
    new reason (its child left, then it left too) is not counted again, and its reason follows the SIS."""
    cli("district", "set", district.slug, "--guard-minimum", "50", "--json")
    users = users_11()
    assert sync(cli, district.slug, write_oneroster(tmp_path / "a", users=users, orgs=ORGS)).code == 0
    for code in ("m0", "m1", "d1"):
        account = Account.objects.get(district=district, person__sis_code=code)
        lifecycle.provision_account(account, actor="test")
        lifecycle.activate_account(account, username=code, password="x" * 12, actor="test")
    no_s1 = [u for u in users if u["sourcedId"] != "s1"]
    first = sync(cli, district.slug, write_oneroster(tmp_path / "b", users=no_s1, orgs=ORGS)).json
    assert first["counts"]["guard"] | {"tripped": None} == {
        "revoking": 2, "holding": 3, "share": 0.05, "tripped": None
    }, "m1 and d1 lose their only child; s0, d0 and t1 (never provisioned) are not in the base"  # fmt: skip
    no_m1 = [u for u in no_s1 if u["sourcedId"] != "m1"]
    second = sync(cli, district.slug, write_oneroster(tmp_path / "c", users=no_m1, orgs=ORGS)).json
    assert second["status"] == "applied", second
    assert (second["counts"]["guard"]["revoking"], second["counts"]["guard"]["holding"]) == (0, 1)
    accounts = accounts_by_person(cli, district.slug)
    assert (accounts["m1"]["state"], accounts["m1"]["reason"]) == ("ready_to_revoke", "left_sis")
    assert (accounts["d1"]["state"], accounts["d1"]["reason"]) == ("ready_to_revoke", "no_students")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="planner statistics: PostgreSQL")
def test_a_first_import_leaves_planner_statistics_for_the_links_it_wrote(
    cli, district, tmp_path, monkeypatch
):
    """Rules and reconciliation read the links in the same transaction: without statistics the planner guessed
    a few thousand links and looped over three million at 1M students (BENCHMARKS.md)."""
    from schoolgate.sync import mirror

    monkeypatch.setattr(mirror, "ANALYZE_AFTER", 0)
    table = Link._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"ANALYZE {table}"
        )  # statistics outlive a test's rollback: start from an empty table's
    assert sync(cli, district.slug, write_oneroster(tmp_path, users=users_11(), orgs=ORGS)).code == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
        assert cursor.fetchone()[0] == Link.objects.count() == 5


def test_each_run_records_the_time_of_each_step_it_went_through(cli, district, tmp_path):
    """Where a slow sync spends its time: seconds per step, in the JSON, on the run, in the CLI's report."""
    from schoolgate.sync.engine import STEPS

    path = write_oneroster(tmp_path / "ok", users=users_11(), orgs=ORGS)
    doc = sync(cli, district.slug, path).json
    assert list(doc["durations"]) == STEPS, "every step, in order, ending with the commit"
    assert all(isinstance(s, float) and s >= 0 for s in doc["durations"].values())
    assert SyncRun.objects.get(pk=doc["run"]).durations == doc["durations"]
    assert "took " in cli("sync", district.slug, path).stdout

    dry = sync(cli, district.slug, path, "--dry-run").json
    assert "commit" not in dry["durations"] and "plan" in dry["durations"], "rolled back after the plan"
    users = users_11()
    users[3]["agentSourcedIds"] = "m1, ghost"
    rejected = sync(cli, district.slug, write_oneroster(tmp_path / "bad", users=users, orgs=ORGS)).json
    assert rejected["status"] == "rejected" and list(rejected["durations"]) == ["read", "compare"]
    assert SyncRun.objects.get(pk=rejected["run"]).durations == rejected["durations"]
