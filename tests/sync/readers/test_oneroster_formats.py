"""OneRoster 1.0/1.1/1.2 sets as read: format detection, and the frames each version produces in bulk and delta
(1.1 from users.csv, 1.2 with roles.csv, including the 1.2 roles.csv checks)."""

from __future__ import annotations

import shutil

import polars as pl
import pytest

from schoolgate.sync.readers import Mode, read_snapshot
from tests.builders import write_oneroster
from tests.sync.readers.helpers import FIXTURES, ok, one, person, rows, where
from tests.sync.readers.oneroster_sets import ORGS, family_11, set_11

# -- OneRoster 1.1 -------------------------------------------------------------------------------------------


def test_11_bulk_frames(tmp_path):
    snapshot = ok(read_snapshot(set_11(tmp_path)))
    assert snapshot.format == "oneroster-1.1"
    assert snapshot.modes == {
        "orgs": Mode.BULK,
        "people": Mode.BULK,
        "relations": Mode.BULK,
        "memberships": Mode.BULK,
    }
    assert snapshot.memberships_replace_owners is True
    assert snapshot.source_system == "Schoolgate test builder"
    assert snapshot.warnings == []

    assert snapshot.orgs.rows() == [
        ("orgs.csv", 2, "dist", "active", "Bay District", "district", None),
        ("orgs.csv", 3, "sch1", "active", "Bay Primary", "school", "dist"),
        ("orgs.csv", 4, "sch2", "active", "Bay High", "school", None),
    ]
    assert rows(snapshot.people, "code", "line", "status", "kind", "roles", "enabled") == [
        ("a1", 6, "active", "staff", "aide", True),
        ("p1", 3, "active", "contact", "parent", True),
        ("p2", 4, "active", "contact", "guardian", False),
        ("s1", 2, "active", "student", "student", True),
        ("t1", 5, "active", "staff", "teacher", True),
    ]
    ada = person(snapshot, "s1")
    assert ada == {
        "file": "users.csv",
        "line": 2,
        "code": "s1",
        "status": "active",
        "kind": "student",
        "roles": "student",
        "enabled": True,
        "given_name": "Ada",
        "family_name": "Lee",
        "middle_name": None,
        "preferred_given_name": None,
        "username": "ada.lee",
        "identifier": None,
        "email": None,
        "phone": None,
        "sms": None,
        "grades": "04",
    }
    assert person(snapshot, "a1")["identifier"] == "A-1" and person(snapshot, "a1")["middle_name"] == "Q"
    assert (person(snapshot, "t1")["phone"], person(snapshot, "t1")["sms"]) == ("+1555", "+1556")
    assert person(snapshot, "p1")["email"] == "bo@x.example"

    # One relation per (user, agent): spaces stripped, empties dropped, repeats removed; direction as written.
    assert rows(
        snapshot.relations, "file", "line", "column", "declarer_code", "other_code", "relationship"
    ) == [
        ("users.csv", 2, "agentSourcedIds", "s1", "p1", None),
        ("users.csv", 2, "agentSourcedIds", "s1", "p2", None),
        ("users.csv", 3, "agentSourcedIds", "p1", "s1", None),
    ]
    # 1.1 memberships come from orgSourcedIds: the first listed org is primary.
    assert rows(
        snapshot.memberships, "line", "column", "person_code", "org_code", "role", "is_primary", "status"
    ) == [
        (2, "orgSourcedIds", "s1", "sch1", "student", True, "active"),
        (2, "orgSourcedIds", "s1", "sch2", "student", False, "active"),
        (3, "orgSourcedIds", "p1", "dist", "parent", True, "active"),
        (4, "orgSourcedIds", "p2", "dist", "guardian", True, "active"),
        (5, "orgSourcedIds", "t1", "sch2", "teacher", True, "active"),
        (6, "orgSourcedIds", "a1", "dist", "aide", True, "active"),
    ]


def test_11_delta_frames(tmp_path):
    users = [
        {"sourcedId": "s1", "agentSourcedIds": "p1"},
        {"sourcedId": "p1", "role": "relative", "status": "tobedeleted", "dateLastModified": "2024-05-02"},
        {
            "sourcedId": "p2",
            "role": "parent",
            "agentSourcedIds": "",
            "dateLastModified": "2024-05-02T10:11:12Z",
        },
    ]
    folder = write_oneroster(tmp_path / "d", mode="delta", orgs=[{"sourcedId": "sch1"}], users=users)
    snapshot = ok(read_snapshot(folder))
    assert snapshot.modes == {
        "orgs": Mode.DELTA,
        "people": Mode.DELTA,
        "relations": Mode.DELTA,
        "memberships": Mode.DELTA,
    }
    assert snapshot.memberships_replace_owners is True
    assert rows(snapshot.people, "code", "status", "kind") == [
        ("p1", "tobedeleted", "contact"),
        ("p2", "active", "contact"),
        ("s1", "active", "student"),
    ]
    assert rows(snapshot.memberships, "person_code", "status") == [
        ("p1", "tobedeleted"),
        ("p2", "active"),
        ("s1", "active"),
    ]
    assert rows(snapshot.relations, "declarer_code", "other_code") == [("s1", "p1")]


def test_11_zip_with_bom_and_crlf(tmp_path):
    archive = set_11(tmp_path, bom=True, crlf=True, zip_to=tmp_path / "bay.zip")
    snapshot = ok(read_snapshot(archive))
    assert snapshot.people.height == 5 and snapshot.relations.height == 3
    assert snapshot.source_system == "Schoolgate test builder"  # BOM stripped from manifest.csv too


def test_no_manifest_is_oneroster_10_bulk(tmp_path):
    folder = write_oneroster(tmp_path / "set", version="1.0", orgs=ORGS, users=family_11())
    assert not (folder / "manifest.csv").exists()
    snapshot = ok(read_snapshot(folder))
    assert snapshot.format == "oneroster-1.0"
    assert snapshot.modes["people"] == snapshot.modes["orgs"] == Mode.BULK
    assert snapshot.source_system is None
    assert snapshot.people.height == 5 and snapshot.memberships.height == 6


def test_no_manifest_10_allows_empty_enabled_user(tmp_path):
    folder = write_oneroster(
        tmp_path / "set", version="1.0", orgs=ORGS, users=[{"sourcedId": "s1", "enabledUser": ""}]
    )
    assert person(ok(read_snapshot(folder)), "s1")["enabled"] is None


def test_mocker_outputs_as_10_with_deviations(tmp_path):
    folder = FIXTURES / "oneroster-mocker-outputs"
    strict = read_snapshot(folder)
    assert strict.format == "oneroster-1.0"
    assert one(strict.errors, "users.csv", 5, "role").message.startswith(
        "role 'principal' is not a OneRoster 1.1 role"
    )
    assert ("users.csv", 2, "status") in where(strict.errors)
    assert ("orgs.csv", 2, "status") in where(strict.errors)

    tolerant = ok(read_snapshot(folder, tolerant=True))
    assert (
        "read as the OneRoster 1.2 role 'principal' (staff)"
        in one(tolerant.warnings, "users.csv", 5, "role").message
    )
    principal = person(tolerant, "58859ecf-2b2a-43f4-be56-437df1db1b44")
    assert (principal["kind"], principal["roles"], principal["grades"]) == ("staff", "principal", "KG")
    assert rows(tolerant.relations, "declarer_code", "other_code") == [
        ("004daf38-1f14-4a56-b758-42e9166ea382", "f167771e-16bf-4a4e-a481-a55551192448"),
        ("81eabe90-875c-4058-90f2-e46c2abc66d9", "f167771e-16bf-4a4e-a481-a55551192448"),
    ]


def test_mocker_1999_users_with_quoted_agent_lists():
    snapshot = ok(read_snapshot(FIXTURES / "oneroster-mocker-1999", tolerant=True))
    kinds = dict(snapshot.people.group_by("kind").len().rows())
    assert kinds == {"contact": 812, "student": 1187}
    students = snapshot.people.filter(pl.col("kind") == "student").get_column("code")
    assert snapshot.relations.filter(pl.col("declarer_code").is_in(students.implode())).height == 2390
    first = snapshot.relations.filter(pl.col("declarer_code") == "b63c6c46-f043-40ee-9f43-f3fb7d46c6d7")
    assert first.get_column("other_code").to_list() == [
        "7d40bde6-6d52-4b9d-98ac-d9c7e9b5aae2",
        "85e36674-52d5-4637-8a58-aa942486f00a",
        "cd8621ba-cdea-4064-ae45-915329b6eb4b",
    ]
    assert len(snapshot.warnings) == 2 + 200 + 1  # orgs rows, the users cap, and the "… more" line
    assert "1,799 more warnings" in snapshot.warnings[-1].message


# -- OneRoster 1.2 -------------------------------------------------------------------------------------------


def users_12() -> list[dict]:
    return [
        {"sourcedId": "s1", "agentSourcedIds": "p1", "preferredGivenName": "Addy"},
        {"sourcedId": "p1", "agentSourcedIds": "s1"},
        {"sourcedId": "t1"},
    ]


ROLES_12 = [
    {"userSourcedId": "s1", "role": "student", "orgSourcedId": "sch1"},
    {"userSourcedId": "p1", "role": "parent", "orgSourcedId": "sch1"},
    {"userSourcedId": "t1", "role": "teacher", "orgSourcedId": "sch1"},
    {"userSourcedId": "t1", "role": "principal", "orgSourcedId": "sch2", "roleType": "secondary"},
]


@pytest.mark.parametrize("version", ["1.2", "1.2.0"])
def test_12_bulk_both_users_layouts(tmp_path, version):
    folder = write_oneroster(tmp_path / "set", version=version, orgs=ORGS, users=users_12(), roles=ROLES_12)
    header = (folder / "users.csv").read_text().splitlines()[0].split(",")
    assert ("resourceSourcedIds" in header) == (version == "1.2.0")
    snapshot = ok(read_snapshot(folder))
    assert snapshot.format == "oneroster-1.2"
    assert snapshot.memberships_replace_owners is False
    assert rows(snapshot.people, "code", "kind", "roles", "preferred_given_name") == [
        ("p1", "contact", "parent", None),
        ("s1", "student", "student", "Addy"),
        ("t1", "staff", "principal,teacher", None),
    ]
    assert rows(
        snapshot.memberships, "file", "line", "column", "person_code", "org_code", "role", "is_primary"
    ) == [
        ("roles.csv", 2, "orgSourcedId", "s1", "sch1", "student", True),
        ("roles.csv", 3, "orgSourcedId", "p1", "sch1", "parent", True),
        ("roles.csv", 4, "orgSourcedId", "t1", "sch1", "teacher", True),
        ("roles.csv", 5, "orgSourcedId", "t1", "sch2", "principal", False),
    ]
    assert rows(snapshot.relations, "declarer_code", "other_code") == [("p1", "s1"), ("s1", "p1")]


def test_12_builder_derives_roles_from_users(tmp_path):
    users = [
        {"sourcedId": "s1", "role": "student", "orgSourcedIds": "sch1,sch2"},
        {"sourcedId": "g1", "role": "guardian"},
    ]
    snapshot = ok(read_snapshot(write_oneroster(tmp_path / "set", version="1.2", orgs=ORGS, users=users)))
    assert rows(snapshot.memberships, "person_code", "org_code", "is_primary") == [
        ("g1", "dist", True),
        ("s1", "sch1", True),
        ("s1", "sch2", False),
    ]
    assert rows(snapshot.people, "code", "kind") == [("g1", "contact"), ("s1", "student")]


def test_12_bulk_teacher_also_guardian_with_header_typos():
    folder = FIXTURES / "or12-bulk-typos"
    strict = read_snapshot(folder)
    assert where(strict.errors) == [
        ("roles.csv", 1, "dataLastModified"),
        ("users.csv", 1, "prefferedGivenName"),
        ("users.csv", 1, "prefferedMiddleName"),
        ("users.csv", 1, "prefferedFamilyName"),
    ]
    assert "misspelling of 'preferredGivenName'" in strict.errors[1].message

    snapshot = ok(read_snapshot(folder, tolerant=True))
    assert where(snapshot.warnings) == where(strict.errors)
    assert all("Tolerated: read as" in w.message for w in snapshot.warnings)
    assert snapshot.source_system == "Heron Lake SIS"
    assert rows(snapshot.people, "code", "kind", "roles", "enabled", "preferred_given_name", "grades") == [
        ("hl-u-100", "staff", "guardian,teacher", True, "Pet", None),
        ("hl-u-200", "student", "student", True, None, "10"),
        ("hl-u-201", "student", "student", True, "Raf", "08"),
        ("hl-u-300", "staff", "siteAdministrator", False, None, None),
    ]
    assert rows(snapshot.relations, "line", "declarer_code", "other_code") == [
        (2, "hl-u-100", "hl-u-200"),
        (2, "hl-u-100", "hl-u-201"),
        (3, "hl-u-200", "hl-u-100"),
        (4, "hl-u-201", "hl-u-100"),
    ]
    assert rows(snapshot.memberships, "person_code", "role", "is_primary") == [
        ("hl-u-100", "guardian", False),
        ("hl-u-100", "teacher", True),
        ("hl-u-200", "student", True),
        ("hl-u-201", "student", True),
        ("hl-u-300", "siteAdministrator", True),
    ]


def test_12_delta_fixture():
    snapshot = ok(read_snapshot(FIXTURES / "or12-delta"))
    assert snapshot.warnings == []
    assert snapshot.modes == {
        "orgs": Mode.DELTA,
        "people": Mode.DELTA,
        "relations": Mode.DELTA,
        "memberships": Mode.DELTA,
    }
    assert rows(snapshot.people, "code", "status", "kind", "roles", "enabled") == [
        ("ow-u-1", "active", "student", "student", True),
        ("ow-u-2", "active", "contact", "parent", True),
        ("ow-u-3", "tobedeleted", None, None, False),  # its only role row is being deleted
        ("ow-u-4", "active", None, None, True),  # no roles row: the engine keeps the kind it has
    ]
    assert rows(snapshot.memberships, "person_code", "status") == [
        ("ow-u-1", "active"),
        ("ow-u-2", "active"),
        ("ow-u-3", "tobedeleted"),
    ]
    assert snapshot.orgs.rows() == [
        ("orgs.csv", 2, "ow-sch-west", "active", "Owl Creek West", "school", None)
    ]


def test_12_bulk_user_without_role_is_an_error_on_its_users_line(tmp_path):
    roles = [r for r in ROLES_12 if r["userSourcedId"] != "p1"]
    folder = write_oneroster(tmp_path / "set", version="1.2", orgs=ORGS, users=users_12(), roles=roles)
    snapshot = read_snapshot(folder)
    error = one(snapshot.errors, "users.csv", 3, None)
    assert "'p1' has no role in roles.csv" in error.message
    assert len(snapshot.errors) == 1


def test_12_delta_without_roles_file_gives_null_kinds(tmp_path):
    folder = write_oneroster(
        tmp_path / "set", version="1.2", mode="delta", orgs=ORGS, users=users_12(), roles=[]
    )
    snapshot = ok(read_snapshot(folder))
    assert snapshot.modes["memberships"] == Mode.ABSENT
    assert snapshot.people.get_column("kind").to_list() == [None, None, None]


def test_12_bulk_users_without_roles_file_is_an_error(tmp_path):
    folder = write_oneroster(tmp_path / "set", version="1.2", orgs=ORGS, users=users_12(), roles=[])
    snapshot = read_snapshot(folder)
    assert where(snapshot.errors) == [("manifest.csv", None, None)]
    assert "roles.csv is absent" in snapshot.errors[0].message


def test_12_roles_checks(tmp_path):
    roles = [
        {"userSourcedId": "s1", "role": "student", "orgSourcedId": "sch1", "roleType": "main"},
        {"userSourcedId": "p1", "role": "Parent", "orgSourcedId": "sch1"},
        {"userSourcedId": "t1", "role": "coach", "orgSourcedId": "sch1"},
        {"userSourcedId": "t1", "role": "teacher", "orgSourcedId": ""},
        {"sourcedId": "role1", "userSourcedId": "", "role": "teacher", "orgSourcedId": "sch1"},
    ]
    folder = write_oneroster(tmp_path / "set", version="1.2", orgs=ORGS, users=users_12(), roles=roles)
    strict = read_snapshot(folder)
    assert where(strict.errors) == [
        ("roles.csv", 2, "roleType"),
        ("roles.csv", 3, "role"),
        ("roles.csv", 4, "role"),
        ("roles.csv", 5, "orgSourcedId"),
        ("roles.csv", 6, "sourcedId"),
        ("roles.csv", 6, "userSourcedId"),
    ]
    assert "roleType is 'main'; expected 'primary' or 'secondary'" in strict.errors[0].message
    assert "sourcedId 'role1' is already used on line 2" in strict.errors[4].message

    tolerant = read_snapshot(folder, tolerant=True)
    # Case is forgiven ('Parent' → parent); an unknown role's row is skipped; the rest are still errors.
    assert "read as the OneRoster 1.2 role 'parent'" in one(tolerant.warnings, "roles.csv", 3, "role").message
    assert "the row was skipped" in one(tolerant.warnings, "roles.csv", 4, "role").message
    assert person(tolerant, "p1")["kind"] == "contact"
    assert "coach" not in tolerant.memberships.get_column("role").to_list()


# -- format detection ----------------------------------------------------------------------------------------


def test_detection(tmp_path):
    assert read_snapshot(set_11(tmp_path)).format == "oneroster-1.1"
    assert read_snapshot(FIXTURES / "sds-v2.1").format == "sds-2.1"
    no_manifest = write_oneroster(tmp_path / "10", version="1.0", orgs=ORGS, users=family_11())
    assert read_snapshot(no_manifest).format == "oneroster-1.0"
    # Forcing the format skips detection.
    assert read_snapshot(no_manifest, format="oneroster").format == "oneroster-1.0"


def test_unrecognised_set(tmp_path):
    folder = tmp_path / "mystery"
    folder.mkdir()
    (folder / "users.csv").write_text("id,name,kind\n1,Ada,student\n")
    (folder / "notes.csv").write_text("a\n1\n")
    snapshot = read_snapshot(folder)
    assert snapshot.format == "unknown"
    assert where(snapshot.errors) == [("mystery", None, None)]
    assert "users.csv starts with id,name,kind" in snapshot.errors[0].message
    assert "manifest.csv" in snapshot.errors[0].message and "SDS" in snapshot.errors[0].message


def test_zip_of_a_fixture_folder(tmp_path):
    archive = shutil.make_archive(str(tmp_path / "typos"), "zip", FIXTURES / "or12-bulk-typos")
    snapshot = ok(read_snapshot(archive, tolerant=True))
    assert person(snapshot, "hl-u-100")["roles"] == "guardian,teacher"
