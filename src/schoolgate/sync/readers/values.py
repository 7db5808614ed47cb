"""The last check on a snapshot: every value fits where it will be stored.

A value the database cannot hold must be a precise error here, not a crash at COPY time: PostgreSQL refuses
text longer than its column and any NUL character (SQLite would silently keep both, so the two engines would
disagree). Limits are the model fields' lengths; each offending row is reported with its file, line and
column, and the set is rejected before anything is written.

Polars does the scanning. A clean set costs one pass per frame that compares each value's length in bytes
(which is never less than its length in characters) with the limit; a file in which no NUL byte occurs at all
(`nul_free`, one search of the raw file) skips looking for NUL value by value. Only when something is found
are the values measured column by column for the exact report.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from schoolgate.sync.readers.base import Snapshot
from schoolgate.sync.readers.problems import ProblemLog

# Per frame: column → the longest value its database column takes (people.Person, core.School, people.Link,
# people.Membership). Columns not named here are codes and names limited to 255.
LIMITS: dict[str, dict[str, int]] = {
    "people": {"email": 320, "phone": 64, "sms": 64, "grades": 100, "kind": 10},
    "orgs": {"org_type": 40},
    "relations": {"relationship": 40},
    "memberships": {"role": 40},
}
DEFAULT_LIMIT = 255
# Columns that locate the row rather than carry SIS data.
_LOCATORS = {"file", "line", "column", "status"}


def check_values(
    snapshot: Snapshot, log: ProblemLog, nul_free: Callable[[str], bool] = lambda file: False
) -> None:
    """Log an error for every value too long for its column or containing a NUL character.

    `nul_free(file)` says that the named file holds no NUL byte anywhere, so no value read from it can."""
    for name in ("orgs", "people", "relations", "memberships"):
        frame: pl.DataFrame = getattr(snapshot, name)
        if frame.is_empty():
            continue
        limits = LIMITS.get(name, {})
        columns = {
            column: limits.get(column, DEFAULT_LIMIT)
            for column, dtype in frame.schema.items()
            if dtype == pl.Utf8 and column not in _LOCATORS
        }
        files = frame.get_column("file").unique().to_list()
        nul_possible = not all(file is not None and nul_free(file) for file in files)
        suspect = []
        for column, limit in columns.items():
            too_long = pl.col(column).str.len_bytes() > limit
            nul = pl.col(column).str.contains("\x00", literal=True)
            suspect.append(too_long | nul if nul_possible else too_long)
        if not suspect or not frame.select(pl.any_horizontal(suspect).any()).item():
            continue
        for column, limit in columns.items():
            values = pl.col(column)
            bad = frame.filter((values.str.len_chars() > limit) | values.str.contains("\x00", literal=True))
            if bad.is_empty():
                continue
            for file, rows in bad.group_by("file", maintain_order=True):
                log.rows(
                    "error",
                    str(file[0]),
                    _label(column),
                    rows.select("line", column),
                    lambda row, column=column, limit=limit: _describe(row[column], limit),
                )


def _label(column: str) -> str:
    """The column as an admin would name it ("given name", not "given_name")."""
    return column.replace("_", " ")


def _describe(value: str, limit: int) -> str:
    if "\x00" in value:
        return (
            "contains a NUL character (byte 0x00), which no text field may hold; remove it and export again."
        )
    return f"is {len(value):,} characters long; this field holds at most {limit}."
