"""Zip files as sets: a file stored twice is refused, and what a zip may expand to on disk is bounded."""

from __future__ import annotations

import io
import os
import struct
import tempfile
import time
import warnings
import zipfile

import pytest

from schoolgate.sync.readers import read_snapshot, source
from tests.builders import write_oneroster
from tests.sync.readers.helpers import ok, one, rows
from tests.sync.readers.test_source import ORGS, USERS

OTHER_USERS = [{"sourcedId": "x9", "givenName": "Mallory"}]


@pytest.fixture
def tmp_dir(tmp_path, monkeypatch):
    """Where the reader makes its temporary folders, so that a test can see what is left behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def zip_set(tmp_path, members: list[tuple[str, str]], name: str = "export.zip"):
    """A zip of the test set's files under the given member names: (member name, file of the set)."""
    folder = write_oneroster(tmp_path / "set", orgs=ORGS, users=USERS)
    other = write_oneroster(tmp_path / "other", orgs=ORGS, users=OTHER_USERS)
    archive = tmp_path / name
    with warnings.catch_warnings(), zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of a duplicate name, and writes it
        for member, file in members:
            base = other if file.startswith("other:") else folder
            # writestr keeps the name as given; write would normalise "./users.csv" to "users.csv".
            zf.writestr(member, (base / file.removeprefix("other:")).read_bytes())
    return archive


SET = [("manifest.csv", "manifest.csv"), ("orgs.csv", "orgs.csv"), ("users.csv", "users.csv")]


# -- a file twice --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("second", ["users.csv", "./users.csv", ".\\users.csv"])
def test_a_file_stored_twice_is_an_error_naming_the_zip_and_the_file(tmp_path, tmp_dir, second):
    # The last copy used to win silently; here it holds someone else.
    archive = zip_set(tmp_path, [*SET, (second, "other:users.csv")])
    for tolerant in (False, True):
        snapshot = read_snapshot(archive, tolerant=tolerant)
        error = one(snapshot.errors, "users.csv", None, None)
        assert error.message.startswith(f"appears twice in export.zip ('users.csv', '{second}')")
        # Nothing is read, so nothing can be applied.
        assert snapshot.people.height == 0 and snapshot.orgs.height == 0
    assert list(tmp_dir.iterdir()) == []


def test_a_file_stored_three_times_in_the_sub_folder_of_a_set(tmp_path):
    members = [(f"export/{m}", f) for m, f in SET]
    members += [("export/./users.csv", "other:users.csv"), ("export//users.csv", "users.csv")]
    snapshot = read_snapshot(zip_set(tmp_path, members), tolerant=True)
    error = one(snapshot.errors, "users.csv", None, None)
    stored = "'export/users.csv', 'export/./users.csv', 'export//users.csv'"
    assert error.message.startswith(f"appears 3 times in export.zip ({stored})")


def test_a_file_twice_outside_the_set_does_not_matter(tmp_path):
    members = [*SET, ("old/users.csv", "other:users.csv"), ("old/./users.csv", "users.csv")]
    snapshot = ok(read_snapshot(zip_set(tmp_path, members)))
    assert rows(snapshot.people, "code") == [("p1",), ("s1",)]


# -- what a zip may expand to --------------------------------------------------------------------------------


def declare_size(archive, member: str, size: int) -> None:
    """Rewrite the uncompressed size the zip's central directory states for `member` (a lying header)."""
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(member)
    position = 0  # find the central directory record whose name is `member`
    while True:
        entry = data.index(b"PK\x01\x02", position)
        name_length = struct.unpack_from("<H", data, entry + 28)[0]
        if data[entry + 46 : entry + 46 + name_length] == member.encode():
            break
        position = entry + 4
    assert struct.unpack_from("<I", data, entry + 24)[0] == info.file_size
    struct.pack_into("<I", data, entry + 24, size)
    archive.write_bytes(bytes(data))


def test_a_member_declaring_more_than_a_file_may_have_is_not_extracted(tmp_path, tmp_dir, monkeypatch):
    # A 1 MB zip can declare 1 GiB (and an upload of 2 GB terabytes): here 3 GiB, past the real bound.
    archive = zip_set(tmp_path, SET)
    declare_size(archive, "users.csv", 3 << 30)
    opened = []
    original = zipfile.ZipFile.open

    def recorded(self, member, *args, **kwargs):
        opened.append(getattr(member, "filename", member))
        return original(self, member, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", recorded)
    snapshot = read_snapshot(archive)
    error = one(snapshot.errors, "users.csv", None, None)
    assert error.message.startswith(
        "expands to 3.0 GiB, more than the 2.0 GiB a file of a set may have, in export.zip"
    )
    assert "users.csv" not in opened and "manifest.csv" in opened  # refused before a byte is extracted
    assert snapshot.people.height == 0
    assert list(tmp_dir.iterdir()) == []  # the temporary folder is gone with the run


def test_a_header_that_understates_the_size_extracts_no_more_than_it_says(tmp_path, tmp_dir):
    archive = zip_set(tmp_path, SET)
    declare_size(archive, "users.csv", 10)
    snapshot = read_snapshot(archive)
    error = one(snapshot.errors, "users.csv", None, None)
    assert "could not be extracted from export.zip" in error.message and "CRC" in error.message
    assert list(tmp_dir.iterdir()) == []


def test_extraction_stops_at_the_bound_whatever_the_header_says(tmp_path, tmp_dir, monkeypatch):
    # zipfile itself stops at the declared size; this is the reader's own guard, should that ever change.
    archive = zip_set(tmp_path, SET)
    monkeypatch.setattr(source, "MAX_MEMBER_SIZE", 1000)
    original = zipfile.ZipFile.open

    def endless(self, member, *args, **kwargs):
        if getattr(member, "filename", member) == "users.csv":
            return io.BytesIO(b"x" * 5000)
        return original(self, member, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", endless)
    monkeypatch.setattr(source, "EXTRACT_CHUNK", 100)
    snapshot = read_snapshot(archive)
    error = one(snapshot.errors, "users.csv", None, None)
    assert error.message.startswith(
        "expands to more than the 1,000 bytes a file of a set may have, though the zip"
    )
    assert list(tmp_dir.iterdir()) == []


def test_the_members_of_one_zip_together_are_bounded(tmp_path, tmp_dir, monkeypatch):
    archive = zip_set(tmp_path, SET)
    with zipfile.ZipFile(archive) as zf:
        sizes = {info.filename: info.file_size for info in zf.infolist()}
    monkeypatch.setattr(source, "MAX_EXTRACTED_SIZE", sum(sizes.values()) - 1)
    snapshot = read_snapshot(archive)
    assert len(snapshot.errors) == 1 and "a zip may expand to, in export.zip" in snapshot.errors[0].message
    assert list(tmp_dir.iterdir()) == []
    monkeypatch.setattr(source, "MAX_EXTRACTED_SIZE", sum(sizes.values()))
    ok(read_snapshot(archive))


def test_temporary_folders_a_killed_run_left_are_removed(tmp_path, tmp_dir):
    old = time.time() - source.STALE_TMP_SECONDS - 60
    for name in ("schoolgate-sis-killed", "schoolgate-sis-running", "someone-else"):
        (tmp_dir / name).mkdir()
        (tmp_dir / name / "users.csv").write_text("x")
        if name != "schoolgate-sis-running":
            os.utime(tmp_dir / name, (old, old))
    ok(read_snapshot(zip_set(tmp_path, SET)))
    assert sorted(p.name for p in tmp_dir.iterdir()) == ["schoolgate-sis-running", "someone-else"]
