"""OneRoster checks, each with its file, line and column, strict and tolerant: the deviations seen in real
exports, headers, users.csv row values, and manifest.csv."""

from __future__ import annotations

import pytest

from schoolgate.sync.readers import Mode, read_snapshot
from tests.builders import write_oneroster
from tests.sync.readers.helpers import FIXTURES, ok, one, person, rows, where
from tests.sync.readers.oneroster_sets import ORGS, family_11, set_11

# -- the deviations seen in real files -----------------------------------------------------------------------


def test_broken_mocker_example_is_rejected_in_both_modes():
    folder = FIXTURES / "oneroster-mocker-example"
    strict = read_snapshot(folder)
    assert where(strict.errors) == [
        ("manifest.csv", 12, "value"),
        ("orgs.csv", 1, None),
        ("users.csv", 1, None),
    ]
    assert strict.errors[0].message == (
        "file.demographics is 'absent' but demographics.csv is in the set; "
        "a file marked absent must be left out."
    )
    assert "no data rows" in strict.errors[1].message and "no data rows" in strict.errors[2].message
    assert strict.source_system == "ClassLink OneRoster" and strict.format == "oneroster-1.1"

    tolerant = read_snapshot(folder, tolerant=True)
    assert where(tolerant.errors) == [("orgs.csv", 1, None), ("users.csv", 1, None)]
    assert where(tolerant.warnings) == [("manifest.csv", 12, "value")]
    assert "Tolerated: demographics.csv was ignored." in tolerant.warnings[0].message
    for snapshot in (strict, tolerant):
        snapshot.check_layout()
        assert snapshot.people.height == 0


def test_repeated_header_line(tmp_path):
    folder = set_11(tmp_path)
    lines = (folder / "users.csv").read_text().splitlines()
    lines.insert(3, lines[0])  # the header again, as line 4
    (folder / "users.csv").write_text("\n".join(lines) + "\n")
    strict = read_snapshot(folder)
    assert where(strict.errors) == [("users.csv", 4, None)]
    assert "repeats the header line" in strict.errors[0].message

    tolerant = ok(read_snapshot(folder, tolerant=True))
    assert where(tolerant.warnings) == [("users.csv", 4, None)]
    assert "Tolerated: the line was skipped." in tolerant.warnings[0].message
    assert rows(tolerant.people, "code", "line") == [("a1", 7), ("p1", 3), ("p2", 5), ("s1", 2), ("t1", 6)]


def test_file_only_holding_repeated_headers_has_no_data_rows(tmp_path):
    folder = set_11(tmp_path)
    header = (folder / "users.csv").read_text().splitlines()[0]
    (folder / "users.csv").write_text(f"{header}\n{header}\n")
    tolerant = read_snapshot(folder, tolerant=True)
    assert where(tolerant.errors) == [("users.csv", 1, None)]
    assert where(tolerant.warnings) == [("users.csv", 2, None)]


def test_manifest_absent_but_file_present(tmp_path):
    folder = set_11(tmp_path, manifest_extra={"file.orgs": "absent"})
    strict = read_snapshot(folder)
    error = one(strict.errors, "manifest.csv", 13, "value")
    assert "file.orgs is 'absent' but orgs.csv is in the set" in error.message
    tolerant = ok(read_snapshot(folder, tolerant=True))
    assert tolerant.modes["orgs"] == Mode.ABSENT and tolerant.orgs.height == 0
    assert "orgs.csv was ignored" in one(tolerant.warnings, "manifest.csv", 13, "value").message
    assert tolerant.people.height == 5


@pytest.mark.parametrize("typo", ["dataLastModified", "dateModified"])
def test_date_last_modified_typos_in_delta(tmp_path, typo):
    folder = write_oneroster(tmp_path / "set", mode="delta", orgs=ORGS, users=family_11())
    text = (folder / "users.csv").read_text()
    (folder / "users.csv").write_text(text.replace("dateLastModified", typo, 1))
    strict = read_snapshot(folder)
    assert where(strict.errors) == [("users.csv", 1, typo)]
    tolerant = ok(read_snapshot(folder, tolerant=True))
    assert where(tolerant.warnings) == [("users.csv", 1, typo)]
    assert tolerant.people.height == 5  # dates were read (and checked) as dateLastModified


def test_bulk_file_filling_status(tmp_path):
    folder = FIXTURES / "or11-bulk-status-filled"
    strict = read_snapshot(folder)
    assert where(strict.errors) == [
        ("orgs.csv", 2, "status"),
        ("orgs.csv", 2, "dateLastModified"),
        ("orgs.csv", 3, "status"),
        ("orgs.csv", 3, "dateLastModified"),
        ("users.csv", 2, "status"),
        ("users.csv", 2, "dateLastModified"),
        ("users.csv", 4, "status"),
        ("users.csv", 4, "dateLastModified"),
        ("users.csv", 5, "status"),
        ("users.csv", 5, "dateLastModified"),
    ]
    assert strict.errors[4].message == (
        "status is 'active'; in a bulk file status must be empty (only delta files carry it)."
    )
    tolerant = ok(read_snapshot(folder, tolerant=True))
    assert where(tolerant.warnings) == where(strict.errors)
    assert "read as 'tobedeleted'" in one(tolerant.warnings, "users.csv", 5, "status").message
    assert rows(tolerant.people, "code", "status", "kind") == [
        ("kv-p-01", "active", "contact"),
        ("kv-s-01", "active", "student"),
        ("kv-s-02", "tobedeleted", "student"),
        ("kv-t-01", "active", "staff"),
    ]
    assert tolerant.modes["people"] == Mode.BULK
    assert rows(tolerant.memberships, "person_code", "status") == [
        ("kv-p-01", "active"),
        ("kv-s-01", "active"),
        ("kv-s-02", "tobedeleted"),
        ("kv-t-01", "active"),
    ]


def test_role_outside_11_vocabulary(tmp_path):
    users = [
        {"sourcedId": "s1"},
        {"sourcedId": "x1", "role": "principal"},
        {"sourcedId": "x2", "role": "Teacher"},
        {"sourcedId": "x3", "role": "janitor", "agentSourcedIds": "s1"},
    ]
    folder = write_oneroster(tmp_path / "set", orgs=ORGS, users=users)
    strict = read_snapshot(folder)
    assert where(strict.errors) == [
        ("users.csv", 3, "role"),
        ("users.csv", 4, "role"),
        ("users.csv", 5, "role"),
    ]
    assert strict.errors[2].message == (
        "role 'janitor' is not a OneRoster 1.1 role; expected one of administrator, aide, guardian, parent, "
        "proctor, relative, student, teacher."
    )
    tolerant = ok(read_snapshot(folder, tolerant=True))
    assert where(tolerant.warnings) == where(strict.errors)
    assert rows(tolerant.people, "code", "kind", "roles") == [
        ("s1", "student", "student"),
        ("x1", "staff", "principal"),
        ("x2", "staff", "teacher"),
    ]
    assert "the row was skipped" in tolerant.warnings[2].message
    assert "counts them as having left the SIS" in tolerant.warnings[2].message, "what skipping a user means"
    assert tolerant.relations.height == 0  # the skipped row's agent links went with it
    assert "x3" not in tolerant.memberships.get_column("person_code").to_list()


# -- headers -------------------------------------------------------------------------------------------------


def test_nonconforming_headers_are_rejected_in_both_modes():
    for tolerant in (False, True):
        snapshot = read_snapshot(FIXTURES / "nonconforming-headers", tolerant=tolerant)
        assert where(snapshot.errors) == [("orgs.csv", 1, "metadata.region"), ("users.csv", 1, "enabledUser")]
        users = snapshot.errors[1].message
        assert users.startswith(
            "column 2 is 'enabledUser' but OneRoster 1.1 users.csv expects 'status' there."
        )
        assert "'userId', 'agents', 'ext_district_code', 'ext_house'" in users
        assert "Missing: userIds, middleName, agentSourcedIds, grades, password." in users
        assert "Expected header: sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role," in users
        assert "column 7 is 'metadata.region'" in snapshot.errors[0].message
        assert snapshot.source_system == "Larkspur Manual Export"


def test_metadata_extension_columns_on_the_right_are_allowed(tmp_path):
    users = [{"sourcedId": "s1", "metadata.house": "Blue", "metadata.bus": "7"}]
    snapshot = ok(read_snapshot(write_oneroster(tmp_path / "set", orgs=ORGS, users=users)))
    assert person(snapshot, "s1")["kind"] == "student"


def test_extra_non_metadata_column_and_short_header(tmp_path):
    folder = set_11(tmp_path)
    text = (folder / "users.csv").read_text().splitlines()
    (folder / "users.csv").write_text(
        "\n".join([text[0] + ",house"] + [t + ",Blue" for t in text[1:]]) + "\n"
    )
    (folder / "orgs.csv").write_text("sourcedId,status,dateLastModified,name\nsch1,,,A\n")
    snapshot = read_snapshot(folder)
    assert where(snapshot.errors) == [("orgs.csv", 1, None), ("users.csv", 1, "house")]
    assert "the header has 4 columns; OneRoster 1.1 orgs.csv needs 7" in snapshot.errors[0].message
    assert "must come after the standard ones and start with 'metadata.'" in snapshot.errors[1].message


# -- users.csv row checks ------------------------------------------------------------------------------------


def test_duplicate_and_empty_sourced_id(tmp_path):
    users = [
        {"sourcedId": "s1"},
        {"sourcedId": "s2"},
        {"sourcedId": "s1", "givenName": "Dup"},
        {"sourcedId": ""},
    ]
    snapshot = read_snapshot(write_oneroster(tmp_path / "set", orgs=ORGS, users=users))
    assert where(snapshot.errors) == [("users.csv", 4, "sourcedId"), ("users.csv", 5, "sourcedId")]
    assert snapshot.errors[0].message == "sourcedId 's1' is already used on line 2; each row needs its own."
    assert snapshot.errors[1].message == "sourcedId is empty; every user needs its identifier."


def test_enabled_user_values(tmp_path):
    users = [
        {"sourcedId": "u1", "enabledUser": "TRUE"},
        {"sourcedId": "u2", "enabledUser": "False"},
        {"sourcedId": "u3", "enabledUser": "yes"},
        {"sourcedId": "u4", "enabledUser": ""},
    ]
    snapshot = read_snapshot(write_oneroster(tmp_path / "set", orgs=ORGS, users=users))
    assert where(snapshot.errors) == [("users.csv", 4, "enabledUser"), ("users.csv", 5, "enabledUser")]
    assert snapshot.errors[0].message == "enabledUser is 'yes'; expected 'false' or 'true'."
    assert "enabledUser is empty" in snapshot.errors[1].message
    assert (person(snapshot, "u1")["enabled"], person(snapshot, "u2")["enabled"]) == (True, False)


def test_delta_status_and_datetime_checks(tmp_path):
    users = [
        {"sourcedId": "u1", "dateLastModified": "2024-03-01T08:30:00.123Z"},
        {"sourcedId": "u2", "dateLastModified": "2024-03-01"},
        {"sourcedId": "u3", "status": "inactive"},
        {"sourcedId": "u4", "status": ""},
        {"sourcedId": "u5", "dateLastModified": "01/03/2024"},
        {"sourcedId": "u6", "dateLastModified": "2024-02-30T08:00:00Z"},
        {"sourcedId": "u7", "dateLastModified": "2024-03-01T08:30:00"},  # no zone: not UTC
        {"sourcedId": "u8", "dateLastModified": ""},
        {"sourcedId": "u9", "dateLastModified": "2024-03-01T08:30:00+00:00"},
    ]
    folder = write_oneroster(tmp_path / "set", mode="delta", orgs=ORGS, users=users)
    snapshot = read_snapshot(folder)
    assert where(snapshot.errors) == [
        ("users.csv", 4, "status"),
        ("users.csv", 5, "status"),
        ("users.csv", 6, "dateLastModified"),
        ("users.csv", 7, "dateLastModified"),
        ("users.csv", 8, "dateLastModified"),
        ("users.csv", 9, "dateLastModified"),
    ]
    assert snapshot.errors[0].message == "status is 'inactive'; expected 'active' or 'tobedeleted'."
    assert snapshot.errors[2].message.startswith("dateLastModified is '01/03/2024'; expected an ISO 8601 UTC")


def test_agent_naming_the_user_itself(tmp_path):
    users = [{"sourcedId": "s1", "agentSourcedIds": "p1,s1"}, {"sourcedId": "p1", "role": "parent"}]
    snapshot = read_snapshot(write_oneroster(tmp_path / "set", orgs=ORGS, users=users))
    error = one(snapshot.errors, "users.csv", 2, "agentSourcedIds")
    assert error.message == "agentSourcedIds names the user itself ('s1'); an agent must be another user."
    assert rows(snapshot.relations, "declarer_code", "other_code") == [("s1", "p1")]


def test_references_are_not_checked_by_the_reader(tmp_path):
    users = [{"sourcedId": "s1", "agentSourcedIds": "nobody", "orgSourcedIds": "nowhere"}]
    snapshot = ok(read_snapshot(write_oneroster(tmp_path / "set", mode="delta", orgs=ORGS, users=users)))
    assert snapshot.relations.get_column("other_code").to_list() == ["nobody"]
    assert snapshot.memberships.get_column("org_code").to_list() == ["nowhere"]


def test_long_values_are_cut_in_messages(tmp_path):
    users = [{"sourcedId": "u1", "enabledUser": "x" * 500}]
    snapshot = read_snapshot(write_oneroster(tmp_path / "set", orgs=ORGS, users=users))
    message = one(snapshot.errors, "users.csv", 2, "enabledUser").message
    assert "x" * 59 + "…'" in message and "x" * 61 not in message


# -- manifest ------------------------------------------------------------------------------------------------


def test_manifest_file_marked_bulk_but_missing(tmp_path):
    folder = set_11(tmp_path, manifest_extra={"file.enrollments": "bulk"})
    snapshot = read_snapshot(folder)
    error = one(snapshot.errors, "manifest.csv", 11, "value")
    assert error.message == "file.enrollments is 'bulk' but enrollments.csv is not in the set."
    (folder / "orgs.csv").rename(folder / "Orgs.csv")
    snapshot = read_snapshot(folder)
    assert (
        "(there is a Orgs.csv; file names are case-sensitive)"
        in one(snapshot.errors, "manifest.csv", 13, "value").message
    )
    assert snapshot.modes["orgs"] == Mode.ABSENT


def test_manifest_version_and_values(tmp_path):
    folder = set_11(tmp_path, manifest_extra={"oneroster.version": "2.0"})
    assert where(read_snapshot(folder).errors) == [("manifest.csv", 3, "value")]

    folder = set_11(tmp_path / "b", manifest_extra={"file.users": "full", "file.results": "sometimes"})
    strict = read_snapshot(folder)
    assert where(strict.errors) == [("manifest.csv", 15, "value"), ("manifest.csv", 16, "value")]
    tolerant = read_snapshot(folder, tolerant=True)
    assert where(tolerant.errors) == [("manifest.csv", 16, "value")]  # users.csv is needed: never guessed
    assert where(tolerant.warnings) == [("manifest.csv", 15, "value")]


def test_manifest_without_version_or_file_row(tmp_path):
    folder = set_11(tmp_path)
    text = (folder / "manifest.csv").read_text()
    (folder / "manifest.csv").write_text(text.replace("oneroster.version,1.1\n", ""))
    assert where(read_snapshot(folder).errors) == [("manifest.csv", None, "propertyName")]

    folder = set_11(tmp_path / "b")
    text = (folder / "manifest.csv").read_text()
    (folder / "manifest.csv").write_text(text.replace("file.users,bulk\n", ""))
    snapshot = read_snapshot(folder)
    assert where(snapshot.errors) == [("manifest.csv", None, "propertyName")]
    assert "no 'file.users' row although users.csv is in the set" in snapshot.errors[0].message
    assert snapshot.modes["people"] == Mode.ABSENT


def test_manifest_bad_header(tmp_path):
    folder = set_11(tmp_path)
    text = (folder / "manifest.csv").read_text()
    (folder / "manifest.csv").write_text(text.replace("propertyName,value", "property,value"))
    snapshot = read_snapshot(folder)
    assert where(snapshot.errors) == [("manifest.csv", 1, None)]
