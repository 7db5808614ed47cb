"""Getting at the files (folder, zip, sub-folder) and the CSV structure checks every format shares."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from schoolgate.sync.readers import Mode, read_snapshot
from tests.builders import write_oneroster
from tests.sync.readers.helpers import FIXTURES, ok, one, person, rows, where

ORGS = [{"sourcedId": "sch1", "name": "Sunny Hill"}]
USERS = [
    {"sourcedId": "s1", "givenName": "Ada", "agentSourcedIds": "p1"},
    {"sourcedId": "p1", "role": "parent", "givenName": "Bea", "agentSourcedIds": "s1"},
]

USERS_HEADER = (
    "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,"
    "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password"
)


def user_line(code: str, role: str = "student", agents: str = "", given: str = "Ada") -> str:
    return f"{code},,,true,sch1,{role},,,{given},Lovelace,,,,,,{agents},,"


def set_with_users(tmp_path, body: bytes, name: str = "users.csv"):
    """A valid 1.1 set whose users.csv is replaced by `body` (bytes, exactly as given)."""
    folder = write_oneroster(tmp_path / "set", orgs=ORGS, users=USERS)
    (folder / name).write_bytes(body)
    return folder


# -- folder and zip ------------------------------------------------------------------------------------------


def test_folder_and_zip_give_the_same_snapshot(tmp_path):
    folder = write_oneroster(tmp_path / "set", orgs=ORGS, users=USERS)
    archive = write_oneroster(tmp_path / "set2", orgs=ORGS, users=USERS, zip_to=tmp_path / "set.zip")
    assert archive == tmp_path / "set.zip"
    from_folder, from_zip = ok(read_snapshot(folder)), ok(read_snapshot(str(archive)))
    assert from_zip.format == from_folder.format == "oneroster-1.1"
    for name in ("orgs", "people", "relations", "memberships"):
        assert getattr(from_zip, name).equals(getattr(from_folder, name)), name
    assert from_zip.warnings == []


def test_zip_with_files_in_one_sub_folder_is_an_error_unless_tolerant(tmp_path):
    folder = write_oneroster(tmp_path / "set", orgs=ORGS, users=USERS)
    archive = tmp_path / "nested.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for item in folder.iterdir():
            zf.write(item, arcname=f"export-2024/{item.name}")
        zf.writestr("__MACOSX/export-2024/._users.csv", b"\x00junk")  # archiver litter is ignored
    strict = read_snapshot(archive)
    assert where(strict.errors) == [("nested.zip", None, None)]
    assert "export-2024/" in strict.errors[0].message and "root" in strict.errors[0].message
    assert strict.people.height == 0

    tolerant = ok(read_snapshot(archive, tolerant=True))
    assert where(tolerant.warnings) == [("nested.zip", None, None)]
    assert "Tolerated" in tolerant.warnings[0].message
    assert rows(tolerant.people, "code", "kind") == [("p1", "contact"), ("s1", "student")]


def test_zip_with_several_sub_folders_is_an_error_in_both_modes(tmp_path):
    folder = write_oneroster(tmp_path / "set", orgs=ORGS, users=USERS)
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for item in folder.iterdir():
            zf.write(item, arcname=f"a/{item.name}")
            zf.write(item, arcname=f"b/{item.name}")
    for tolerant in (False, True):
        snapshot = read_snapshot(archive, tolerant=tolerant)
        assert where(snapshot.errors) == [("two.zip", None, None)]
        assert "'a/'" in snapshot.errors[0].message


def test_large_zip_members_are_extracted_not_held(tmp_path, monkeypatch):
    # The reader hands polars a path to an extracted file (memory-mapped), never the member's bytes.
    archive = write_oneroster(tmp_path / "set", orgs=ORGS, users=USERS, zip_to=tmp_path / "set.zip")
    read_calls = []
    original = zipfile.ZipFile.read
    monkeypatch.setattr(
        zipfile.ZipFile, "read", lambda self, *a, **k: read_calls.append(a) or original(self, *a, **k)
    )
    ok(read_snapshot(archive))
    assert read_calls == []


def test_missing_path_and_non_zip_file_are_errors_not_exceptions(tmp_path):
    missing = read_snapshot(tmp_path / "nope")
    assert where(missing.errors) == [("nope", None, None)]
    assert "not found" in missing.errors[0].message
    junk = tmp_path / "export.zip"
    junk.write_bytes(b"this is not a zip")
    snapshot = read_snapshot(junk)
    assert where(snapshot.errors) == [("export.zip", None, None)]
    assert "zip" in snapshot.errors[0].message


def test_unknown_format_argument_is_a_programming_error(tmp_path):
    with pytest.raises(ValueError, match="format"):
        read_snapshot(tmp_path, format="xml")


# -- encodings and line endings ------------------------------------------------------------------------------


def test_bom_and_crlf_are_accepted_everywhere(tmp_path):
    plain = ok(read_snapshot(write_oneroster(tmp_path / "plain", orgs=ORGS, users=USERS)))
    both = ok(read_snapshot(write_oneroster(tmp_path / "both", orgs=ORGS, users=USERS, bom=True, crlf=True)))
    assert (tmp_path / "both" / "users.csv").read_bytes().startswith(b"\xef\xbb\xbfsourcedId,")
    assert b"\r\n" in (tmp_path / "both" / "users.csv").read_bytes()
    assert both.people.equals(plain.people)
    assert both.relations.equals(plain.relations)
    assert both.source_system == "Schoolgate test builder"
    assert person(both, "s1")["given_name"] == "Ada"  # no stray CR or BOM in values


def test_invalid_utf8_names_the_line_of_the_first_bad_byte(tmp_path):
    body = "\n".join([USERS_HEADER, user_line("s1"), user_line("s2", given="Zoë")]).encode("utf-8")
    body = body.replace("Zoë".encode(), b"Zo\xeb") + b"\n"  # Latin-1 ë
    snapshot = read_snapshot(set_with_users(tmp_path, body))
    error = one(snapshot.errors, "users.csv", 3, None)
    assert (
        "UTF-8" in error.message
        and "0xEB" in error.message
        and "'s2,,,true,sch1,student,,,Zo'" in error.message
    )
    assert snapshot.people.height == 0


def test_invalid_utf8_in_the_header(tmp_path):
    snapshot = read_snapshot(set_with_users(tmp_path, b"sourced\xffId,status\n"))
    assert where(snapshot.errors) == [("users.csv", 1, None)]


def test_embedded_newline_in_quoted_field_names_the_line_where_it_starts(tmp_path):
    lines = [
        USERS_HEADER,
        user_line("s1"),
        's2,,,true,sch1,student,,,"Ada',
        'Marie",Lovelace,,,,,,,,',
        user_line("s3"),
    ]
    snapshot = read_snapshot(set_with_users(tmp_path, ("\n".join(lines) + "\n").encode()))
    error = one(snapshot.errors, "users.csv", 3, None)
    assert "line break" in error.message and "line 4" in error.message
    assert len(snapshot.errors) == 1


def test_unclosed_quote_runs_to_the_end_of_the_file(tmp_path):
    lines = [USERS_HEADER, user_line("s1"), 's2,,,true,sch1,student,,,"Ada,Lovelace,,,,,,,,', user_line("s3")]
    snapshot = read_snapshot(set_with_users(tmp_path, ("\n".join(lines) + "\n").encode()))
    assert where(snapshot.errors) == [("users.csv", 3, None)]
    assert "line 4" in snapshot.errors[0].message


def test_stray_quote_inside_an_unquoted_field(tmp_path):
    lines = [USERS_HEADER, user_line("s1"), user_line("s2", given='Ada "Al'), user_line("s3")]
    snapshot = read_snapshot(set_with_users(tmp_path, ("\n".join(lines) + "\n").encode()))
    error = one(snapshot.errors, "users.csv", 3, None)
    assert "unmatched double quote" in error.message


def test_carriage_return_inside_a_quoted_field(tmp_path):
    lines = [USERS_HEADER, user_line("s1"), 's2,,,true,sch1,student,,,"Ada\rMarie",Lovelace,,,,,,,,']
    snapshot = read_snapshot(set_with_users(tmp_path, ("\r\n".join(lines) + "\r\n").encode()))
    error = one(snapshot.errors, "users.csv", 3, None)
    assert "carriage return" in error.message
    assert rows(snapshot.people, "code", "line") == [("s1", 2)]


# -- record structure ----------------------------------------------------------------------------------------


def test_ragged_lines_are_errors_naming_each_line(tmp_path):
    lines = [USERS_HEADER, user_line("s1"), user_line("s2") + ",extra", user_line("s3")[:-5], user_line("s4")]
    snapshot = read_snapshot(set_with_users(tmp_path, ("\n".join(lines) + "\n").encode()))
    assert where(snapshot.errors) == [("users.csv", 3, None), ("users.csv", 4, None)]
    assert "19 fields but the header has 18" in snapshot.errors[0].message
    assert "13 fields but the header has 18" in snapshot.errors[1].message
    # The other lines are still read, with their own line numbers.
    assert rows(snapshot.people, "code", "line") == [("s1", 2), ("s4", 5)]


def test_comma_inside_quotes_is_not_a_field_separator(tmp_path):
    lines = [
        USERS_HEADER,
        's1,,,true,sch1,student,,"{LDAP:1},{LTI:2}","Ada, Countess",Lovelace,,,,,,"p1, p2",,',
    ]
    snapshot = ok(read_snapshot(set_with_users(tmp_path, ("\n".join(lines) + "\n").encode())))
    assert person(snapshot, "s1")["given_name"] == "Ada, Countess"
    assert rows(snapshot.relations, "declarer_code", "other_code") == [("s1", "p1"), ("s1", "p2")]


def quoted(line: str) -> str:
    """The line as a writer that quotes every field writes it."""
    return ",".join(f'"{value}"' for value in next(__import__("csv").reader([line])))


def test_a_file_with_every_field_quoted_reads_as_the_same_values(tmp_path):
    lines = [USERS_HEADER, user_line("s1", agents='"p1,p2"'), user_line("p1", role="parent"), user_line("p2")]
    plain = ok(read_snapshot(set_with_users(tmp_path / "a", ("\n".join(lines) + "\n").encode())))
    every = ok(read_snapshot(set_with_users(tmp_path / "b", ("\n".join(map(quoted, lines)) + "\n").encode())))
    assert every.people.equals(plain.people) and every.relations.equals(plain.relations)
    assert every.memberships.equals(plain.memberships)


def test_quoted_lines_with_a_missing_or_an_extra_field_are_found(tmp_path):
    """Counted from what the parse found inside quotes: a line whose commas add up only because one sits
    inside a quoted value still lacks a field."""
    fields = next(__import__("csv").reader([user_line("s2")]))
    missing = ",".join(f'"{v}"' for v in [*fields[:8], "Ada, Countess", *fields[10:]])  # familyName dropped
    extra = ",".join(f'"{v}"' for v in [*fields, "extra, more"])
    lines = [USERS_HEADER, quoted(user_line("s1")), missing, extra, quoted(user_line("s4"))]
    assert lines[2].count(",") == 17, "as many commas as a good line"
    snapshot = read_snapshot(set_with_users(tmp_path, ("\n".join(lines) + "\n").encode()))
    assert where(snapshot.errors) == [("users.csv", 3, None), ("users.csv", 4, None)]
    assert "17 fields but the header has 18" in snapshot.errors[0].message
    assert "19 fields but the header has 18" in snapshot.errors[1].message
    assert rows(snapshot.people, "code", "line") == [("s1", 2), ("s4", 5)]


def test_quotes_inside_an_unquoted_field_are_read_as_the_csv_module_reads_them(tmp_path):
    lines = [USERS_HEADER, user_line("s1", given='Ada "The Countess" L')]
    snapshot = ok(read_snapshot(set_with_users(tmp_path, ("\n".join(lines) + "\n").encode())))
    assert person(snapshot, "s1")["given_name"] == 'Ada "The Countess" L'


def test_blank_lines_are_skipped_and_line_numbers_stay_physical(tmp_path):
    lines = [USERS_HEADER, "", user_line("s1"), "", "", user_line("s2"), ""]
    snapshot = ok(read_snapshot(set_with_users(tmp_path, ("\n".join(lines) + "\n").encode())))
    assert rows(snapshot.people, "code", "line") == [("s1", 3), ("s2", 6)]


def test_values_are_kept_as_written_and_empty_values_are_null(tmp_path):
    lines = [USERS_HEADER, 's1,,,true,sch1,student,"",,Ada ,"",,,,,,,,']
    snapshot = ok(read_snapshot(set_with_users(tmp_path, ("\n".join(lines) + "\n").encode())))
    s1 = person(snapshot, "s1")
    assert s1["given_name"] == "Ada "  # no trimming: the SIS value as sent
    assert s1["username"] is None and s1["family_name"] is None and s1["email"] is None  # "" and empty → null


def test_file_without_data_rows_is_an_error_even_when_tolerant(tmp_path):
    for tolerant in (False, True):
        folder = set_with_users(tmp_path / str(tolerant), (USERS_HEADER + "\n\n").encode())
        snapshot = read_snapshot(folder, tolerant=tolerant)
        error = one(snapshot.errors, "users.csv", 1, None)
        assert "no data rows" in error.message
        assert snapshot.modes["orgs"] == Mode.BULK  # the other files are still read


def test_empty_file_is_an_error(tmp_path):
    snapshot = read_snapshot(set_with_users(tmp_path, b""))
    error = one(snapshot.errors, "users.csv", 1, None)
    assert "empty" in error.message


def test_separator_byte_in_data_falls_back_to_the_csv_module(tmp_path):
    # The vectorised structure scan splits on \x1f; a file containing it is checked record by record.
    lines = [USERS_HEADER, user_line("s1", given="A\x1fda"), user_line("s2") + ",extra"]
    snapshot = read_snapshot(set_with_users(tmp_path, ("\n".join(lines) + "\n").encode()))
    assert where(snapshot.errors) == [("users.csv", 3, None)]
    assert person(snapshot, "s1")["given_name"] == "A\x1fda"


def test_max_problems_caps_each_file_and_says_how_many_more(tmp_path):
    lines = [USERS_HEADER] + [user_line(f"s{i}").replace(",true,", ",maybe,") for i in range(30)]
    snapshot = read_snapshot(set_with_users(tmp_path, ("\n".join(lines) + "\n").encode()), max_problems=5)
    assert len(snapshot.errors) == 6
    assert where(snapshot.errors[:5]) == [("users.csv", line, "enabledUser") for line in range(2, 7)]
    last = snapshot.errors[5]
    assert (last.file, last.line, last.column) == ("users.csv", None, None)
    assert "25 more errors" in last.message


def test_fixture_sets_are_complete():
    for name in ("oneroster-mocker-example", "sds-v2.1", "or11-bulk-status-filled", "or12-bulk-typos"):
        assert (FIXTURES / name).is_dir(), name
    assert (FIXTURES / "oneroster-mocker-example" / "LICENSE").is_file()
    assert (FIXTURES / "sds-v2.1" / "LICENSE.txt").is_file()


def test_old_mac_line_breaks_are_an_error_not_a_crash(tmp_path):
    body = f"{USERS_HEADER}\r{user_line('s1')}\r".encode()
    snapshot = read_snapshot(set_with_users(tmp_path, body))
    error = one(snapshot.errors, "users.csv", 1, None)
    assert "carriage returns (CR) alone" in error.message
    # Without a manifest the format cannot even be told; the reason still reaches the admin.
    (tmp_path / "set" / "manifest.csv").unlink()
    snapshot = read_snapshot(tmp_path / "set")
    assert "carriage returns (CR) alone" in one(snapshot.errors, "set", None, None).message


def test_paths_with_glob_characters(tmp_path):
    folder = write_oneroster(tmp_path / "Export [2024] *", orgs=ORGS, users=USERS)
    assert ok(read_snapshot(folder)).people.height == 2


def test_whitespace_only_line_is_a_one_field_line(tmp_path):
    lines = [USERS_HEADER, user_line("s1"), "   "]
    snapshot = read_snapshot(set_with_users(tmp_path, ("\r\n".join(lines) + "\r\n").encode()))
    assert "has 1 field but the header has 18" in one(snapshot.errors, "users.csv", 3, None).message


def test_readers_do_not_import_django():
    # The readers run in the CLI before Django is set up, and in these tests without it.
    code = "import sys, schoolgate.sync.readers; sys.exit('django' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
