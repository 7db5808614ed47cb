"""The contract between SIS readers and the sync engine.

A reader turns one SIS file set (a folder or a zip) into a `Snapshot`: a handful of polars DataFrames with
fixed, normalised columns, plus the problems it found. Readers never touch the database; the engine stages a
snapshot, checks references against what the district already holds, and applies it set-based.

Every frame carries `file` and `line` columns (the physical line in the source file, header = line 1) so that a
problem found later, in SQL, can still be reported as "users.csv line 12, column agentSourcedIds: …".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import polars as pl


class Mode(StrEnum):
    """How a frame's rows relate to what the district already holds."""

    ABSENT = "absent"  # the set says nothing about this entity: leave it untouched
    BULK = "bulk"  # complete picture: rows not in the frame leave the SIS
    DELTA = "delta"  # changes only: rows carry status active/tobedeleted; absent rows are untouched


class PersonKind(StrEnum):
    STUDENT = "student"
    CONTACT = "contact"
    STAFF = "staff"


@dataclass(frozen=True)
class Problem:
    """One error or warning, located as precisely as the input allows."""

    file: str
    line: int | None
    column: str | None
    message: str

    def as_dict(self) -> dict:
        """The problem as stored on the run: JSON that both engines accept (PostgreSQL's jsonb has no NUL)."""
        return {
            "file": _printable(self.file),
            "line": self.line,
            "column": _printable(self.column),
            "message": _printable(self.message),
        }


def _printable(text: str | None) -> str | None:
    # A hostile file can put NUL in a header or a quoted value; show it as the visible "␀" symbol instead.
    return text.replace("\x00", "\u2400") if text else text


class Rejected(Exception):
    """The file set cannot be applied; `problems` says where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the SIS files")
        self.problems = problems


# Column layouts of the normalised frames. Every column is Utf8 unless noted.
ORG_COLUMNS = {
    "file": pl.Utf8,
    "line": pl.Int64,
    "code": pl.Utf8,  # sourcedId
    "status": pl.Utf8,  # "active" | "tobedeleted"
    "name": pl.Utf8,
    "org_type": pl.Utf8,  # school, district, department, …
    "parent_code": pl.Utf8,  # null when none
}

PERSON_COLUMNS = {
    "file": pl.Utf8,
    "line": pl.Int64,
    "code": pl.Utf8,  # sourcedId, never empty, unique in the frame
    "status": pl.Utf8,  # "active" | "tobedeleted"
    "kind": pl.Utf8,  # PersonKind value, or null when the set does not say (a delta without roles)
    "roles": pl.Utf8,  # every SIS role of the person, sorted, comma-joined: "guardian,teacher"
    "enabled": pl.Boolean,  # enabledUser; null when the format has no such field (SDS: treated as true)
    "given_name": pl.Utf8,
    "family_name": pl.Utf8,
    "middle_name": pl.Utf8,
    "preferred_given_name": pl.Utf8,
    "username": pl.Utf8,  # SIS-supplied username, null when empty
    "identifier": pl.Utf8,
    "email": pl.Utf8,
    "phone": pl.Utf8,
    "sms": pl.Utf8,
    "grades": pl.Utf8,  # comma-joined
}

# A relation says "declarer_code names other_code as a related person" (OneRoster agentSourcedIds, SDS
# relationships.csv). Direction is not fixed in real files; the engine works out which end is the student.
RELATION_COLUMNS = {
    "file": pl.Utf8,
    "line": pl.Int64,
    "column": pl.Utf8,  # the column that named the relation, for error messages
    "declarer_code": pl.Utf8,
    "other_code": pl.Utf8,
    "relationship": pl.Utf8,  # explicit relationship when the format gives one (SDS: guardian/relative), else null
}

MEMBERSHIP_COLUMNS = {
    "file": pl.Utf8,
    "line": pl.Int64,
    "column": pl.Utf8,
    "person_code": pl.Utf8,
    "org_code": pl.Utf8,
    "role": pl.Utf8,
    "is_primary": pl.Boolean,
    "status": pl.Utf8,  # "active" | "tobedeleted"
}


def empty_frame(columns: dict[str, pl.DataType]) -> pl.DataFrame:
    """A frame with the given layout and no rows."""
    return pl.DataFrame(schema=columns)


@dataclass
class Snapshot:
    """What one SIS file set says, normalised.

    Modes, per frame:
    - orgs, people: BULK (rows missing from the frame leave the SIS) or DELTA (row `status` decides).
    - relations: BULK replaces every relation the district holds; DELTA replaces the relations declared by
      each person in `people` (so a delta users.csv row with empty agentSourcedIds removes that person's
      declared links) — that is how OneRoster agent lists behave in either direction.
    - memberships: BULK replaces all; DELTA applies rows by their status (active adds, tobedeleted removes),
      except when `memberships_replace_owners` is true (OneRoster 1.1 orgSourcedIds on users rows), where
      each person in `people` has their memberships replaced by the rows given.
    """

    format: str  # "oneroster-1.0" | "oneroster-1.1" | "oneroster-1.2" | "sds-2.1"
    orgs: pl.DataFrame = field(default_factory=lambda: empty_frame(ORG_COLUMNS))
    people: pl.DataFrame = field(default_factory=lambda: empty_frame(PERSON_COLUMNS))
    relations: pl.DataFrame = field(default_factory=lambda: empty_frame(RELATION_COLUMNS))
    memberships: pl.DataFrame = field(default_factory=lambda: empty_frame(MEMBERSHIP_COLUMNS))
    modes: dict[str, Mode] = field(
        default_factory=lambda: {
            "orgs": Mode.ABSENT,
            "people": Mode.ABSENT,
            "relations": Mode.ABSENT,
            "memberships": Mode.ABSENT,
        }
    )
    memberships_replace_owners: bool = False
    source_system: str | None = None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def check_layout(self) -> None:
        """Fail loudly if a reader produced a frame that breaks the contract (a programming error)."""
        for name, columns in (
            ("orgs", ORG_COLUMNS),
            ("people", PERSON_COLUMNS),
            ("relations", RELATION_COLUMNS),
            ("memberships", MEMBERSHIP_COLUMNS),
        ):
            frame: pl.DataFrame = getattr(self, name)
            if dict(frame.schema) != columns:
                raise AssertionError(f"{name} frame has schema {dict(frame.schema)}, expected {columns}")
