"""What reading one CSV file costs: blank and bad lines stay in polars, and a file's size is bounded.

The Python objects the readers make for flagged lines are counted (`made`): a file of a million blank lines
once made a million `Anomaly` objects and a set of their line numbers (~550 bytes a line, gigabytes for a
4 MB file). Now blank lines are a count and a polars mask, and bad lines are described only as far as the
problem log lists them.
"""

from __future__ import annotations

import polars as pl
import pytest

from schoolgate.sync.readers import read_snapshot, table
from schoolgate.sync.readers.problems import ProblemLog
from tests.sync.readers.helpers import ok, one, rows
from tests.sync.readers.test_source import USERS_HEADER, quoted, set_with_users, user_line

BLANK = 5_000
USERS_FIELDS = len(USERS_HEADER.split(","))


@pytest.fixture
def made(monkeypatch):
    """How many `Anomaly` objects the readers make, and how many lines they hand `describe_lines`."""
    counts = {"anomalies": 0, "described": 0}

    class Counted(table.Anomaly):
        def __init__(self, *args, **kwargs):
            counts["anomalies"] += 1
            super().__init__(*args, **kwargs)

    describe = table.describe_lines

    def counted_describe(path, lines, n_fields):
        counts["described"] += len(lines)
        return describe(path, lines, n_fields)

    monkeypatch.setattr(table, "Anomaly", Counted)
    monkeypatch.setattr(table, "describe_lines", counted_describe)
    return counts


def write(tmp_path, lines: list[str]):
    path = tmp_path / "users.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def scan_and_read(path):
    log = ProblemLog(200, False)
    structure = table.scan_structure(path, "users.csv", USERS_FIELDS, log)
    assert structure is not None, log.finish()
    frame = table.read_rows(path, "users.csv", {"code": 0}, structure, log)
    assert log.finish() == ([], [])
    return structure, frame


# -- blank lines ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scan", ["polars", "csv module"])
def test_blank_lines_are_a_count_and_a_polars_mask_not_python_objects(tmp_path, made, scan):
    given = "Ada" if scan == "polars" else "A\x1fda"  # the separator byte sends the scan to the csv module
    lines = [USERS_HEADER, user_line("s1", given=given), *[""] * BLANK, user_line("s2"), "", ""]
    structure, frame = scan_and_read(write(tmp_path, lines))

    assert structure.lines == len(lines) and structure.blank == BLANK + 2
    assert isinstance(structure.skip, pl.Series) and structure.skip.dtype == pl.Boolean
    blank_lines = structure.skip.arg_true() + 1  # the mask is indexed by line - 1
    assert blank_lines.len() == BLANK + 2
    assert (blank_lines.head(1).item(), blank_lines.tail(1).item()) == (3, len(lines))
    assert made == {"anomalies": 0, "described": 0}
    # Line numbers stay physical, blank lines skipped.
    assert frame.select("line", "code").rows() == [(2, "s1"), (BLANK + 3, "s2")]


def test_a_file_with_thousands_of_blank_lines_reads_as_without_them(tmp_path, made):
    lines = [USERS_HEADER, *[""] * BLANK, user_line("s1", agents="p1"), *[""] * BLANK]
    lines += [user_line("p1", role="parent", given="Bea", agents="s1"), *[""] * BLANK]
    snapshot = ok(read_snapshot(set_with_users(tmp_path, ("\n".join(lines) + "\n").encode())))
    assert rows(snapshot.people, "code", "line") == [("p1", 2 * BLANK + 3), ("s1", BLANK + 2)]
    assert made["anomalies"] == 0


def test_more_blank_lines_than_the_bound_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(table, "MAX_BLANK_LINES", 10)
    for blank, scan in [(10, "polars"), (11, "polars"), (11, "csv module")]:
        given = "Ada" if scan == "polars" else "A\x1fda"
        lines = [USERS_HEADER, user_line("s1", given=given), *[""] * blank, user_line("p1", role="parent")]
        folder = set_with_users(tmp_path / f"{blank}-{scan}", ("\n".join(lines) + "\n").encode())
        snapshot = read_snapshot(folder, tolerant=True)
        if blank == 10:
            assert [e for e in snapshot.errors if e.file == "users.csv"] == []
        else:
            error = one(snapshot.errors, "users.csv", None, None)
            assert "has 11 blank lines" in error.message and "more than 10 mean" in error.message
            assert snapshot.people.height == 0


def test_a_file_past_the_line_bound_is_an_error_and_is_not_read_to_its_end(tmp_path, monkeypatch):
    monkeypatch.setattr(table, "MAX_LINES", 100)
    path = write(tmp_path, [USERS_HEADER, *[user_line(f"s{i}") for i in range(50)], *[""] * 500])
    assert table._scan_polars(path, USERS_FIELDS).height == 101  # one line past the bound, not 551
    for given in ("Ada", "A\x1fda"):  # the polars scan, and the csv module's
        path.write_text(path.read_text().replace("Ada", given))
        log = ProblemLog(200, False)
        assert table.scan_structure(path, "users.csv", USERS_FIELDS, log) is None
        (error,) = log.finish()[0]
        assert (error.line, error.column) == (None, None)
        assert "more than 100 lines (49 of the first 100 are blank)" in error.message


# -- bad lines: described only as far as the log lists them ---------------------------------------------------


def test_a_wrong_field_count_on_every_line_is_described_only_as_far_as_listed(tmp_path, made):
    lines = [USERS_HEADER] + [user_line(f"s{i}") + ",extra" for i in range(2000)]
    snapshot = read_snapshot(set_with_users(tmp_path, ("\n".join(lines) + "\n").encode()), max_problems=5)
    errors = [e for e in snapshot.errors if e.file == "users.csv"]
    assert [e.line for e in errors] == [2, 3, 4, 5, 6, None]
    assert "19 fields but the header has 18" in errors[0].message
    assert "1,995 more errors" in errors[-1].message
    assert made == {"anomalies": 5, "described": 5}


def test_quoted_lines_with_a_missing_field_are_described_only_as_far_as_listed(tmp_path, made):
    # Every field quoted and one dropped, with a comma inside a value: the line has the header's commas,
    # so only read_rows' count of the commas inside values finds it.
    fields = next(__import__("csv").reader([user_line("s")]))
    missing = [
        ",".join(f'"{v}"' for v in [f"s{i}", *fields[1:8], "Ada, Countess", *fields[10:]]) for i in range(500)
    ]
    lines = [USERS_HEADER, quoted(user_line("s0")), *missing]
    snapshot = read_snapshot(set_with_users(tmp_path, ("\n".join(lines) + "\n").encode()), max_problems=3)
    errors = [e for e in snapshot.errors if e.file == "users.csv"]
    assert [e.line for e in errors] == [3, 4, 5, None]
    assert "17 fields but the header has 18" in errors[0].message
    assert "497 more errors" in errors[-1].message
    assert made == {"anomalies": 3, "described": 3}
