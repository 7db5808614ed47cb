"""Hostile input for the importers: the Big List of Naughty Strings (tests/fixtures/naughty-strings, MIT),
hypothesis-generated text and bytes, huge fields, wrong encodings and formula-injection values.

The property every test checks: the file set is either imported exactly as written, or rejected with errors
that name the file and line — never a crash, never a partial write. And values that look like spreadsheet
formulas are neutralised in every CSV Schoolgate writes.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schoolgate.jobs.reports import FORMULA_START, safe_cell
from schoolgate.people.models import Person
from schoolgate.sync.engine import run_sync
from schoolgate.sync.models import SyncRun
from tests.builders import write_oneroster
from tests.factories import make_district

NAUGHTY = [
    line
    for line in (Path(__file__).resolve().parents[1] / "fixtures" / "naughty-strings" / "blns.txt")
    .read_text(encoding="utf-8")
    .splitlines()
    if line and not line.startswith("#")
]
ORGS = [{"sourcedId": "sch", "name": "School", "type": "school"}]
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Text a CSV file can carry: any character except lone surrogates (not encodable in UTF-8).
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)


def student(code: str, **fields: str) -> dict:
    return {"sourcedId": code, "role": "student", "orgSourcedIds": "sch", "familyName": "Fuzz", **fields}


def stored_or_rejected(district, outcome, expected_people: int) -> None:
    """The two allowed outcomes: applied with every person stored, or rejected with located errors and
    nothing stored."""
    assert outcome.status in ("applied", "rejected"), (outcome.status, outcome.errors)
    people = Person.objects.filter(district=district).count()
    if outcome.status == "rejected":
        assert outcome.errors and all(e.file for e in outcome.errors), outcome.errors
        assert people == 0, "a rejected set writes nothing"
    else:
        assert people == expected_people


def test_every_naughty_string_as_a_name_is_kept_exactly(district, tmp_path):
    users = [student(f"s{i}", givenName=text, familyName=text[::-1]) for i, text in enumerate(NAUGHTY)]
    outcome = run_sync(district, write_oneroster(tmp_path / "set", users=users, orgs=ORGS))
    stored_or_rejected(district, outcome, len(NAUGHTY))
    if outcome.status == "applied":
        names = dict(Person.objects.filter(district=district).values_list("sis_code", "given_name"))
        for i, text in enumerate(NAUGHTY):
            assert names[f"s{i}"] == text, f"naughty string {i} changed on the way in"
    else:  # only values the database cannot hold may be refused, each with its line
        assert all(e.line for e in outcome.errors), outcome.errors


@pytest.mark.parametrize("chunk", range(4))
def test_naughty_strings_as_codes_import_or_are_rejected_by_line(district, tmp_path, chunk):
    texts = NAUGHTY[chunk::4]
    users = [student(text, givenName=f"n{i}") for i, text in enumerate(texts)]
    outcome = run_sync(district, write_oneroster(tmp_path / "set", users=users, orgs=ORGS))
    distinct = len(set(texts))
    if outcome.status == "applied":
        assert Person.objects.filter(district=district).count() == distinct
    else:
        stored_or_rejected(district, outcome, distinct)
        assert all(e.line or "duplicate" in e.message.lower() for e in outcome.errors), outcome.errors


@FUZZ
@given(given_name=TEXT, email=TEXT, code=TEXT.filter(lambda s: s.strip()))
def test_random_text_in_any_field(db, tmp_path_factory, given_name, email, code):
    district = make_district()
    folder = tmp_path_factory.mktemp("fuzz")
    outcome = run_sync(district, write_oneroster(folder, users=[student(code, givenName=given_name, email=email)],
                                                  orgs=ORGS))  # fmt: skip
    stored_or_rejected(district, outcome, 1)
    if outcome.status == "applied":
        person = Person.objects.get(district=district)
        assert (person.sis_code, person.given_name) == (code, given_name)


@FUZZ
@given(content=st.binary(max_size=2000))
def test_random_bytes_as_the_users_file(db, tmp_path_factory, content):
    district = make_district()
    folder = write_oneroster(tmp_path_factory.mktemp("bytes"), users=[student("s1")], orgs=ORGS)
    (folder / "users.csv").write_bytes(content)
    stored_or_rejected(district, run_sync(district, folder), 1)


def test_a_nul_in_a_header_is_reported_and_the_run_recorded(district, tmp_path):
    """Found by the random-bytes test on PostgreSQL: an error quoting a NUL could not be stored in jsonb."""
    folder = write_oneroster(tmp_path / "set", users=[student("s1")], orgs=ORGS)
    (folder / "users.csv").write_bytes(b"\x00sourcedId,role\ns1,student\n")
    outcome = run_sync(district, folder)
    stored_or_rejected(district, outcome, 1)
    run = SyncRun.objects.get(district=district)
    assert run.status == "rejected" and run.errors
    text = str(run.errors)
    assert "\x00" not in text and "\u2400" in text, run.errors  # shown as the visible NUL symbol


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("givenName", "x" * 100_000, "100,000 characters long"),
        ("email", "a" * 400 + "@example.org", "at most 320"),
        ("familyName", "nul\x00here", "NUL character"),
        ("sourcedId", "c" * 300, "at most 255"),
    ],
)
def test_values_the_database_cannot_hold_are_rejected_with_their_place(
    district, tmp_path, field, value, message
):
    row = student("s1")
    row[field] = value
    outcome = run_sync(district, write_oneroster(tmp_path / "set", users=[row], orgs=ORGS))
    assert outcome.status == "rejected"
    assert outcome.errors and all((e.file, e.line) == ("users.csv", 2) for e in outcome.errors), (
        outcome.errors
    )
    assert any(message in e.message for e in outcome.errors)
    assert not Person.objects.filter(district=district).exists()


def test_a_name_of_many_bytes_but_few_enough_characters_is_stored(district, tmp_path):
    """Lengths are first compared in bytes (cheap); 255 characters of two bytes each still fit."""
    name = "é" * 255
    outcome = run_sync(district, write_oneroster(tmp_path / "set", users=[student("s1", givenName=name)],
                                                 orgs=ORGS))  # fmt: skip
    assert outcome.status == "applied", outcome.errors
    assert Person.objects.get(district=district, sis_code="s1").given_name == name


def test_a_nul_in_a_zipped_file_is_reported_with_its_place(district, tmp_path):
    """The NUL search of the raw file must look at the extracted member, not skip it."""
    import zipfile

    folder = write_oneroster(tmp_path / "set", users=[student("s1"), student("s2", familyName="a\x00b")],
                             orgs=ORGS)  # fmt: skip
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for item in folder.iterdir():
            zf.write(item, item.name)
    outcome = run_sync(district, archive)
    assert outcome.status == "rejected"
    assert [(e.file, e.line) for e in outcome.errors] == [("users.csv", 3)], outcome.errors
    assert "NUL character" in outcome.errors[0].message


@pytest.mark.parametrize(
    ("encoding", "message"), [("utf-16", "UTF-16"), ("cp1252", "Windows-1252"), ("latin-1", "Latin-1")]
)
def test_wrong_encodings_are_named(district, tmp_path, encoding, message):
    folder = write_oneroster(tmp_path / "set", users=[student("s1", givenName="Zoë Ångström")], orgs=ORGS)
    path = folder / "users.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode(encoding))
    outcome = run_sync(district, folder)
    assert outcome.status == "rejected" and message in outcome.errors[0].message
    assert outcome.errors[0].file == "users.csv" and outcome.errors[0].line
    assert not Person.objects.filter(district=district).exists()


@settings(max_examples=300)
@given(TEXT)
def test_no_csv_cell_starts_a_formula(value):
    cell = safe_cell(value)
    assert not cell.startswith(FORMULA_START), cell
    assert cell in (value, "'" + value), "only the neutralising apostrophe is added"
    buffer = io.StringIO()
    csv.writer(buffer).writerow([cell])
    assert next(csv.reader(io.StringIO(buffer.getvalue()))) == [cell], "the CSV round-trips"


def test_a_formula_injection_name_is_neutralised_in_the_job_report(cli, district, tmp_path, settings):
    """A name like =cmd|' /C calc'!A0 from the SIS reaches the generation report's CSV as inert text."""
    from schoolgate.accounts import generation
    from schoolgate.accounts.models import AccountGroup
    from schoolgate.jobs.models import Job
    from schoolgate.jobs.runner import run_job

    settings.SCHOOLGATE_REPORTS_DIR = tmp_path / "reports"
    hostile = "=cmd|' /C calc'!A0"
    users = [
        student("k1", agentSourcedIds="p1"),
        {"sourcedId": "p1", "role": "parent", "orgSourcedIds": "sch", "givenName": hostile, "familyName": "+SUM(1)",
         "email": "p1@example.org"},
    ]  # fmt: skip
    cli("sync", district.slug, write_oneroster(tmp_path / "set", users=users, orgs=ORGS), "--json")
    cli("group", "add", district.slug, "Parents", "--audience", "contact", "--usernames", "chosen", "--json")
    job = run_job(generation.start(AccountGroup.objects.get(district=district), actor="test").pk)
    text = Path(Job.objects.get(pk=job.pk).report_csv).read_text(encoding="utf-8")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    named = [cell for cell in cells if hostile in cell]
    assert named and all(cell.startswith("'=") for cell in named), cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
