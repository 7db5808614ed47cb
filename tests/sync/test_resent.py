"""A file set sent again unchanged is recognised by its content and not read, with exactly the outcome of
comparing fingerprints; anything that could make that outcome differ — other bytes, other options, a merge,
a delta set or another set applied meanwhile — makes the run read the set as usual."""

from __future__ import annotations

import shutil

from schoolgate.accounts.merge import merge_contacts
from schoolgate.sync import engine, fingerprint, resent
from schoolgate.sync.models import AppliedSet
from tests.builders import write_oneroster
from tests.sync.helpers import district_state
from tests.sync.test_engine import ORGS, users_11


def sync(cli, district, path, *flags) -> dict:
    result = cli("sync", district.slug, path, "--json", *flags)
    assert result.json["status"] in ("applied", "dry_run"), result.stdout + result.stderr
    return result.json


def forbid_reading(monkeypatch) -> None:
    """From now on, fail the test if a run reads its set."""

    def read(*args, **kwargs):
        raise AssertionError("the set was read")

    monkeypatch.setattr(engine, "read_snapshot", read)


def test_the_same_set_sent_again_is_not_read_and_changes_nothing(cli, district, tmp_path, monkeypatch):
    path = write_oneroster(tmp_path / "set", users=users_11(), orgs=ORGS)
    first = sync(cli, district, path)
    before = district_state(district)
    forbid_reading(monkeypatch)

    again = sync(cli, district, path)

    assert again["counts"]["staged"] == {"people": 0, "unchanged": 8, "same_set_as_run": first["run"]}
    assert all(
        v == 0 for name, c in again["counts"].items() if name not in ("staged", "guard") for v in c.values()
    )
    assert district_state(district) == before
    assert AppliedSet.objects.get(district=district).run_id == again["run"]


def test_the_same_rows_in_another_order_are_the_same_set_and_not_read(cli, district, tmp_path, monkeypatch):
    """SIS exports often list their rows in no fixed order: the same rows are the same set."""
    path = write_oneroster(tmp_path / "a", users=users_11(), orgs=ORGS)
    first = sync(cli, district, path)
    before = district_state(district)
    reordered = write_oneroster(tmp_path / "b", users=users_11()[::-1], orgs=ORGS[::-1], crlf=True)
    forbid_reading(monkeypatch)

    again = sync(cli, district, reordered)

    assert again["counts"]["staged"] == {"people": 0, "unchanged": 8, "same_set_as_run": first["run"]}
    assert district_state(district) == before


def test_rows_are_not_taken_for_others(cli, district, tmp_path):
    """Moving the header, repeating a row, a blank line or a line moved to another file: another set."""
    path = write_oneroster(tmp_path / "set", users=users_11(), orgs=ORGS)
    sync(cli, district, path)
    key = resent.content_key(path, format="auto", tolerant=False, seed=fingerprint.SEED)
    users = (path / "users.csv").read_text().splitlines(keepends=True)
    orgs = (path / "orgs.csv").read_text().splitlines(keepends=True)
    variants = {
        "header moved": ("users.csv", [users[1], users[0], *users[2:]]),
        "a row twice": ("users.csv", [*users, users[-1]]),
        "a blank line": ("users.csv", [*users, "\n"]),
        "a row edited": ("users.csv", [*users[:-1], users[-1].replace("t1", "t2")]),
        "an org row moved to users.csv": ("users.csv", [*users, orgs[1]]),
    }
    for name, (file, lines) in variants.items():
        other = shutil.copytree(path, tmp_path / name.replace(" ", "-"))
        (other / file).write_text("".join(lines))
        assert resent.content_key(other, format="auto", tolerant=False, seed=fingerprint.SEED) != key, name
    moved = shutil.copytree(path, tmp_path / "moved")
    (moved / "orgs.csv").write_text("".join(orgs[:-1]))
    (moved / "users.csv").write_text("".join([*users, orgs[-1]]))
    assert resent.content_key(moved, format="auto", tolerant=False, seed=fingerprint.SEED) != key


def test_a_file_polars_cannot_split_into_lines_counts_by_its_bytes(cli, district, tmp_path, monkeypatch):
    """A 0x1F byte (what the row digest splits on) or invalid UTF-8: the bytes decide, in that order only."""
    path = write_oneroster(tmp_path / "set", users=users_11(), orgs=ORGS)
    (path / "notes.csv").write_bytes(b"a,b\nc\x1fd,e\nf\xff,g\n")  # not read by the importer
    sync(cli, district, path)
    reordered = shutil.copytree(path, tmp_path / "reordered")
    (reordered / "notes.csv").write_bytes(b"a,b\nf\xff,g\nc\x1fd,e\n")
    read = sync(cli, district, reordered)
    assert "same_set_as_run" not in read["counts"]["staged"]
    forbid_reading(monkeypatch)
    assert sync(cli, district, reordered)["counts"]["staged"]["same_set_as_run"] == read["run"]


def test_a_set_whose_warnings_name_lines_is_recognised_only_in_the_same_order(cli, district, tmp_path):
    """A warning quotes a line number, which another order would make wrong: those rows are read again."""
    users = users_11()
    users[1]["status"] = "active"  # in a bulk file: a warning when tolerant, naming line 3
    path = write_oneroster(tmp_path / "a", users=users, orgs=ORGS)
    first = sync(cli, district, path, "--tolerant")
    assert [w["line"] for w in first["warnings"] if w["file"] == "users.csv"] == [3]
    assert sync(cli, district, path, "--tolerant")["counts"]["staged"]["same_set_as_run"] == first["run"]

    reordered = sync(
        cli, district, write_oneroster(tmp_path / "b", users=users[::-1], orgs=ORGS), "--tolerant"
    )

    assert "same_set_as_run" not in reordered["counts"]["staged"], "read again"
    assert [w["line"] for w in reordered["warnings"] if w["file"] == "users.csv"] == [len(users)]


def test_a_one_byte_change_is_read_and_applied(cli, district, tmp_path):
    path = write_oneroster(tmp_path / "set", users=users_11(), orgs=ORGS)
    sync(cli, district, path)
    users = (path / "users.csv").read_text().replace("m0@example.org", "n0@example.org")
    (path / "users.csv").write_text(users)

    again = sync(cli, district, path)

    assert again["counts"]["staged"] == {"people": 1, "unchanged": 7}
    assert district.people.get(sis_code="m0").email == "n0@example.org"


def test_other_options_are_another_set(cli, district, tmp_path):
    path = write_oneroster(tmp_path / "set", users=users_11(), orgs=ORGS)
    sync(cli, district, path)
    assert "same_set_as_run" not in sync(cli, district, path, "--tolerant")["counts"]["staged"]
    assert "same_set_as_run" not in sync(cli, district, path, "--full")["counts"]["staged"]
    assert not AppliedSet.objects.filter(district=district).exists(), "a full run records no key"


def test_after_a_merge_the_same_set_restages_the_merged_records(cli, district, tmp_path):
    users = users_11()
    users.append({"sourcedId": "m0b", "role": "parent", "orgSourcedIds": "sch1", "agentSourcedIds": "s1"})
    path = write_oneroster(tmp_path / "set", users=users, orgs=ORGS)
    sync(cli, district, path)
    merge_contacts(district, "m0", "m0b", actor="admin@test")

    again = sync(cli, district, path)

    assert "same_set_as_run" not in again["counts"]["staged"]
    assert again["counts"]["staged"]["people"] == 2, "the merge cleared both fingerprints: both restaged"


def test_a_delta_set_in_between_forgets_the_applied_set(cli, district, tmp_path):
    path = write_oneroster(tmp_path / "base", users=users_11(), orgs=ORGS)
    sync(cli, district, path)
    delta = write_oneroster(
        tmp_path / "delta",
        mode="delta",
        orgs=ORGS,
        users=[{"sourcedId": "m0", "role": "parent", "orgSourcedIds": "sch1", "email": "x@example.org"}],
    )
    sync(cli, district, delta)
    assert not AppliedSet.objects.filter(district=district).exists()

    again = sync(cli, district, path)

    assert "same_set_as_run" not in again["counts"]["staged"]
    assert district.people.get(sis_code="m0").email == "m0@example.org", "the bulk set is applied again"


def test_a_set_applied_meanwhile_makes_the_run_read_after_all(cli, district, tmp_path, monkeypatch):
    """The lookup happens before the district is locked; a set applied between the two must not be taken
    for the one being sent — even one that changed no person, only a school's name."""
    a = write_oneroster(tmp_path / "a", users=users_11(), orgs=ORGS)
    sync(cli, district, a)
    key = resent.content_key(a, format="auto", tolerant=False, seed=fingerprint.SEED)
    looked_up = resent.lookup(district, key, lambda: None)
    assert looked_up is not None
    renamed = [{**ORGS[0], "name": "North High School"}]
    sync(cli, district, write_oneroster(tmp_path / "b", users=users_11(), orgs=renamed))
    # As if this run had looked up before the other run committed.
    monkeypatch.setattr(resent, "lookup", lambda district, key, exact_key: looked_up)

    again = sync(cli, district, a)

    assert "same_set_as_run" not in again["counts"]["staged"]
    assert district.schools.get(sis_code="sch1").name == "North High"


def test_a_dry_run_of_the_same_set_writes_nothing(cli, district, tmp_path):
    path = write_oneroster(tmp_path / "set", users=users_11(), orgs=ORGS)
    first = sync(cli, district, path)
    before = district_state(district)

    dry = sync(cli, district, path, "--dry-run")

    assert dry["status"] == "dry_run" and dry["counts"]["staged"]["same_set_as_run"] == first["run"]
    assert district_state(district) == before
    assert AppliedSet.objects.get(district=district).run_id == first["run"]


def test_a_moved_folder_or_a_renamed_zip_is_the_same_set_and_a_zip_is_not_its_folder(cli, district, tmp_path):
    path = write_oneroster(tmp_path / "set", users=users_11(), orgs=ORGS)
    first = sync(cli, district, path)
    moved = shutil.copytree(path, tmp_path / "elsewhere")
    assert sync(cli, district, moved)["counts"]["staged"]["same_set_as_run"] == first["run"]

    zipped = write_oneroster(tmp_path / "z", users=users_11(), orgs=ORGS, zip_to=tmp_path / "set.zip")
    from_zip = sync(cli, district, zipped)
    assert "same_set_as_run" not in from_zip["counts"]["staged"]
    uploaded_again = shutil.copy(zipped, tmp_path / "20261122-upload-set.zip")  # uploads get new names
    assert sync(cli, district, uploaded_again)["counts"]["staged"]["same_set_as_run"] == from_zip["run"]


def test_the_command_line_says_the_files_were_sent_before(cli, district, tmp_path):
    path = write_oneroster(tmp_path / "set", users=users_11(), orgs=ORGS)
    first = sync(cli, district, path)
    printed = cli("sync", district.slug, path)
    assert (
        printed.code == 0 and f"The same files as run {first['run']}, sent again: not read" in printed.stdout
    )


def test_warnings_are_given_once_whether_from_the_files_or_from_the_district(cli, district, tmp_path):
    from schoolgate.accounts.overrides import set_override

    path = write_oneroster(tmp_path / "set", users=users_11(), orgs=ORGS)
    users_csv = path / "users.csv"
    header = users_csv.read_text().splitlines()[0]
    users_csv.write_text(users_csv.read_text() + header + "\n")  # a repeated header: a warning when tolerant
    first = sync(cli, district, path, "--tolerant")
    from_files = [w for w in first["warnings"] if w["file"]]
    assert from_files, "the set gives a warning when read"
    set_override(district, contact="aunt0", student="s0", field="portal", value=True, reason="carer",
                 actor="admin@test")  # fmt: skip

    for _ in range(2):
        again = sync(cli, district, path, "--tolerant")
        assert "same_set_as_run" in again["counts"]["staged"]
        assert [w for w in again["warnings"] if w["file"]] == from_files
        kept = [w for w in again["warnings"] if "override kept: aunt0" in w["message"]]
        assert len(kept) == 1, again["warnings"]
