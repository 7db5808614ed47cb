"""The file-set builder other tests rely on writes exactly what the specs describe."""

from __future__ import annotations

import csv
import zipfile

import pytest

from tests.builders import write_oneroster, write_sds


def read(path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.reader(handle))


def test_oneroster_11_bulk_files(tmp_path):
    folder = write_oneroster(
        tmp_path / "set",
        orgs=[{"sourcedId": "sch1"}],
        users=[{"sourcedId": "s1", "agentSourcedIds": "p1, p2", "givenName": "Ada"}],
    )
    assert folder == tmp_path / "set"
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.csv", "orgs.csv", "users.csv"]
    users = read(folder / "users.csv")
    assert ",".join(users[0]) == (
        "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,"
        "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password"
    )
    assert dict(zip(users[0], users[1], strict=True)) == {
        **dict.fromkeys(users[0], ""),
        "sourcedId": "s1",
        "enabledUser": "true",
        "orgSourcedIds": "sch1",
        "role": "student",
        "agentSourcedIds": "p1, p2",
        "givenName": "Ada",
    }
    assert '"p1, p2"' in (folder / "users.csv").read_text()  # the list is quoted
    manifest = dict(read(folder / "manifest.csv")[1:])
    assert manifest["oneroster.version"] == "1.1"
    assert (manifest["file.users"], manifest["file.orgs"], manifest["file.enrollments"]) == (
        "bulk",
        "bulk",
        "absent",
    )
    assert "file.roles" not in manifest


def test_oneroster_12_delta_zip(tmp_path):
    archive = write_oneroster(
        tmp_path / "set",
        version="1.2",
        mode="delta",
        orgs=[{"sourcedId": "sch1"}],
        users=[{"sourcedId": "t1", "role": "teacher"}],
        manifest_extra={"source.systemName": "Acme SIS"},
        zip_to=tmp_path / "set.zip",
        crlf=True,
        bom=True,
    )
    assert archive == tmp_path / "set.zip"
    with zipfile.ZipFile(archive) as zf:
        assert sorted(zf.namelist()) == ["manifest.csv", "orgs.csv", "roles.csv", "users.csv"]
        assert zf.read("users.csv").startswith(
            b"\xef\xbb\xbfsourcedId,status,dateLastModified,enabledUser,username,"
        )
        assert b"\r\n" in zf.read("roles.csv")
    roles = read(tmp_path / "set" / "roles.csv")
    row = dict(zip(roles[0], roles[1], strict=True))
    assert (row["userSourcedId"], row["role"], row["roleType"], row["status"]) == (
        "t1",
        "teacher",
        "primary",
        "active",
    )
    assert row["dateLastModified"].endswith("Z")
    users = read(tmp_path / "set" / "users.csv")
    assert "role" not in users[0] and dict(zip(users[0], users[1], strict=True))["status"] == "active"
    manifest = dict(read(tmp_path / "set" / "manifest.csv")[1:])
    assert (manifest["oneroster.version"], manifest["file.roles"], manifest["source.systemName"]) == (
        "1.2",
        "delta",
        "Acme SIS",
    )


def test_oneroster_120_layout_and_unknown_keys(tmp_path):
    folder = write_oneroster(
        tmp_path / "a", version="1.2.0", orgs=[{"sourcedId": "o"}], users=[{"sourcedId": "u"}]
    )
    header = read(folder / "users.csv")[0]
    assert header[16:19] == ["userMasterIdentifier", "resourceSourcedIds", "preferredGivenName"]
    with pytest.raises(ValueError, match="agents"):
        write_oneroster(tmp_path / "b", orgs=[{"sourcedId": "o"}], users=[{"sourcedId": "u", "agents": "p"}])


def test_empty_list_leaves_the_file_out(tmp_path):
    folder = write_oneroster(tmp_path / "a", mode="delta", orgs=[], users=[{"sourcedId": "u"}])
    assert not (folder / "orgs.csv").exists()
    assert dict(read(folder / "manifest.csv")[1:])["file.orgs"] == "absent"


def test_sds_files(tmp_path):
    folder = write_sds(
        tmp_path / "sds",
        orgs=[{"sourcedId": "sch1"}],
        users=[{"sourcedId": "s1"}, {"sourcedId": "g1"}],
        roles=[{"userSourcedId": "s1"}],
        relationships=[{"userSourcedId": "s1", "relationshipUserSourcedId": "g1"}],
    )
    assert read(folder / "users.csv")[0] == [
        "sourcedId",
        "username",
        "givenName",
        "familyName",
        "password",
        "activeDirectoryMatchId",
        "email",
        "phone",
        "sms",
    ]
    assert read(folder / "roles.csv")[1][:3] == ["s1", "sch1", "student"]
    assert read(folder / "relationships.csv")[1] == ["s1", "g1", "guardian"]
