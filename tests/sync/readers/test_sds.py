"""Microsoft School Data Sync v2.1 sets."""

from __future__ import annotations

from schoolgate.sync.readers import Mode, read_snapshot
from tests.builders import write_sds
from tests.sync.readers.helpers import FIXTURES, ok, one, person, rows, where

ORGS = [{"sourcedId": "sch1", "name": "Fir School"}, {"sourcedId": "dist", "type": "district"}]


def test_official_sample_imports_without_errors():
    snapshot = ok(read_snapshot(FIXTURES / "sds-v2.1"))
    assert snapshot.format == "sds-2.1"
    assert snapshot.warnings == []
    assert snapshot.modes == {
        "orgs": Mode.BULK,
        "people": Mode.BULK,
        "relations": Mode.BULK,
        "memberships": Mode.BULK,
    }
    assert snapshot.memberships_replace_owners is False
    assert snapshot.orgs.rows() == [
        ("orgs.csv", 2, "110001", "active", "College of Engineering", "college", None),
        ("orgs.csv", 3, "110002", "active", "Computer Science Department", "department", "110001"),
        ("orgs.csv", 4, "110003", "active", "School of TwoDotOne", "school", "110004"),
        ("orgs.csv", 5, "110004", "active", "Ministry of TwoDotOne", "ministryOfEducation", None),
    ]
    assert rows(snapshot.people, "code", "line", "kind", "roles", "enabled", "status", "grades") == [
        ("114001", 2, "student", "student", None, "active", "10"),
        ("114002", 3, "contact", "guardian,relative", None, "active", None),
        ("114003", 4, "student", "student", None, "active", "10"),
        ("114004", 5, "student", "student", None, "active", "10"),
        ("114005", 6, "contact", "guardian", None, "active", None),
        ("114006", 7, "staff", "professor", None, "active", "ps1"),
        ("114007", 8, "staff", "teacher", None, "active", "10"),
        ("114008", 9, "student", "student", None, "active", "ps1"),
    ]
    jean = person(snapshot, "114002")
    assert (
        jean["given_name"],
        jean["family_name"],
        jean["username"],
        jean["email"],
        jean["phone"],
        jean["sms"],
    ) == (
        "Jean",
        "Craig",
        "jean.craig@outlook.com",
        "jean.craig@outlook.com",
        "+11234567890",
        "+11234567890",
    )
    assert jean["identifier"] is None and jean["middle_name"] is None
    assert snapshot.relations.rows() == [
        ("relationships.csv", 2, "relationshipUserSourcedId", "114001", "114002", "guardian"),
        ("relationships.csv", 3, "relationshipUserSourcedId", "114003", "114002", "relative"),
        ("relationships.csv", 4, "relationshipUserSourcedId", "114004", "114005", "guardian"),
    ]
    assert rows(
        snapshot.memberships, "line", "column", "person_code", "org_code", "role", "is_primary", "status"
    ) == [
        (2, "orgSourcedId", "114001", "110003", "student", True, "active"),
        (3, "orgSourcedId", "114003", "110003", "student", True, "active"),
        (4, "orgSourcedId", "114004", "110003", "student", True, "active"),
        (5, "orgSourcedId", "114006", "110002", "professor", True, "active"),
        (6, "orgSourcedId", "114007", "110004", "teacher", True, "active"),
        (7, "orgSourcedId", "114007", "110003", "teacher", False, "active"),
        (8, "orgSourcedId", "114008", "110001", "student", True, "active"),
    ]


def test_sds_teacher_who_is_also_a_guardian(tmp_path):
    folder = write_sds(
        tmp_path / "sds",
        orgs=ORGS,
        users=[{"sourcedId": "s1"}, {"sourcedId": "t1"}, {"sourcedId": "g1"}],
        roles=[
            {"userSourcedId": "s1", "grade": "05"},
            {"userSourcedId": "t1", "role": "teacher", "isPrimary": "false"},
        ],
        relationships=[
            {"userSourcedId": "s1", "relationshipUserSourcedId": "t1", "relationshipRole": "parent"},
            {"userSourcedId": "s1", "relationshipUserSourcedId": "g1", "relationshipRole": "other"},
        ],
    )
    snapshot = ok(read_snapshot(folder))
    assert rows(snapshot.people, "code", "kind", "roles", "grades") == [
        ("g1", "contact", "other", None),  # "other" in relationships.csv is a contact, not staff
        ("s1", "student", "student", "05"),
        ("t1", "staff", "parent,teacher", None),
    ]
    assert rows(snapshot.memberships, "person_code", "is_primary") == [("s1", True), ("t1", False)]


def test_sds_detected_by_users_header_without_relationships(tmp_path):
    folder = write_sds(
        tmp_path / "sds",
        orgs=ORGS,
        users=[{"sourcedId": "s1"}],
        roles=[{"userSourcedId": "s1"}],
        relationships=[],
    )
    assert not (folder / "relationships.csv").exists()
    snapshot = ok(read_snapshot(folder))
    assert snapshot.format == "sds-2.1"
    assert (
        snapshot.modes["relations"] == Mode.ABSENT
    )  # no relationships.csv: the set says nothing about links


def test_sds_users_need_a_role_or_a_relationship(tmp_path):
    folder = write_sds(
        tmp_path / "sds",
        orgs=ORGS,
        users=[{"sourcedId": "s1"}, {"sourcedId": "x1"}, {"sourcedId": "old"}],
        roles=[{"userSourcedId": "s1"}, {"userSourcedId": "old", "role": "alumni"}],
        relationships=[{"userSourcedId": "s1", "relationshipUserSourcedId": "s1"}],
    )
    snapshot = read_snapshot(folder)
    assert where(snapshot.errors) == [
        ("relationships.csv", 2, "relationshipUserSourcedId"),
        ("users.csv", 3, None),
    ]
    assert (
        "'x1' has no role in roles.csv and is not a relationshipUserSourcedId" in snapshot.errors[1].message
    )
    # Alumni are valid SDS data that a community portal does not serve: left out with a warning.
    warning = one(snapshot.warnings, "users.csv", 4, None)
    assert "'old' only has the role(s) 'alumni'" in warning.message
    assert rows(snapshot.people, "code") == [("s1",), ("x1",)]
    assert "old" not in snapshot.memberships.get_column("person_code").to_list()


def test_sds_vocabularies_strict_and_tolerant(tmp_path):
    folder = write_sds(
        tmp_path / "sds",
        orgs=ORGS,
        users=[{"sourcedId": "s1"}, {"sourcedId": "t1"}, {"sourcedId": "t2"}, {"sourcedId": "g1"}],
        roles=[
            {"userSourcedId": "s1", "isPrimary": "maybe"},
            {"userSourcedId": "t1", "role": "Teacher"},
            {"userSourcedId": "t2", "role": "wizard"},
        ],
        relationships=[
            {"userSourcedId": "s1", "relationshipUserSourcedId": "g1", "relationshipRole": "aunt"}
        ],
    )
    strict = read_snapshot(folder)
    assert where(strict.errors) == [
        ("relationships.csv", 2, "relationshipRole"),
        ("roles.csv", 2, "isPrimary"),
        ("roles.csv", 3, "role"),
        ("roles.csv", 4, "role"),
    ]
    tolerant = read_snapshot(folder, tolerant=True)
    assert where(tolerant.errors) == [("roles.csv", 2, "isPrimary")]
    assert "kept as given" in one(tolerant.warnings, "relationships.csv", 2, "relationshipRole").message
    assert "read as 'teacher'" in one(tolerant.warnings, "roles.csv", 3, "role").message
    assert "the row was skipped" in one(tolerant.warnings, "roles.csv", 4, "role").message
    assert "'t2' only has the role(s)" in one(tolerant.warnings, "users.csv", 4, None).message
    assert rows(tolerant.people, "code", "kind", "roles") == [
        ("g1", "contact", "aunt"),
        ("s1", "student", "student"),
        ("t1", "staff", "teacher"),
    ]
    assert tolerant.relations.get_column("relationship").to_list() == ["aunt"]


def test_sds_headers_by_name(tmp_path):
    folder = write_sds(
        tmp_path / "sds",
        orgs=ORGS,
        users=[{"sourcedId": "s1"}],
        roles=[{"userSourcedId": "s1"}],
        relationships=[],
    )
    # Columns in another order, an optional one left out and an unknown one added: matched by name.
    (folder / "users.csv").write_text("email,username,sourcedId,nickname\nada@x.example,ada,s1,Addy\n")
    snapshot = ok(read_snapshot(folder))
    ada = person(snapshot, "s1")
    assert (ada["email"], ada["username"], ada["given_name"]) == ("ada@x.example", "ada", None)
    assert where(snapshot.warnings) == [("users.csv", 1, "nickname")]

    (folder / "roles.csv").write_text("userSourcedId,Role,orgSourcedId\ns1,student,sch1\n")
    snapshot = read_snapshot(folder)
    error = one(snapshot.errors, "roles.csv", 1, None)
    assert "no 'role' column (found 'Role'; headers are case-sensitive)" in error.message


def test_sds_required_files(tmp_path):
    folder = write_sds(
        tmp_path / "sds",
        orgs=ORGS,
        users=[{"sourcedId": "s1"}],
        roles=[{"userSourcedId": "s1"}],
        relationships=[],
    )
    (folder / "roles.csv").unlink()
    snapshot = read_snapshot(folder, format="sds")
    assert where(snapshot.errors) == [("roles.csv", None, None), ("users.csv", 2, None)]


def test_sds_duplicate_relationship(tmp_path):
    folder = write_sds(
        tmp_path / "sds",
        orgs=ORGS,
        users=[{"sourcedId": "s1"}, {"sourcedId": "g1"}],
        roles=[{"userSourcedId": "s1"}],
        relationships=[
            {"userSourcedId": "s1", "relationshipUserSourcedId": "g1"},
            {"userSourcedId": "s1", "relationshipUserSourcedId": "g1", "relationshipRole": "relative"},
        ],
    )
    strict = read_snapshot(folder)
    assert where(strict.errors) == [("relationships.csv", 3, "relationshipUserSourcedId")]
    assert "already given on line 2" in strict.errors[0].message
    tolerant = ok(read_snapshot(folder, tolerant=True))
    assert tolerant.relations.get_column("relationship").to_list() == ["guardian"]
