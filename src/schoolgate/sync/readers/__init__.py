"""SIS file readers: a OneRoster or SDS file set (folder or .zip) → a normalised `Snapshot`.

    snapshot = read_snapshot("export.zip")            # format detected
    snapshot = read_snapshot(folder, "oneroster", tolerant=True)
    if snapshot.errors: ...                           # the engine rejects the set

Readers never raise for bad input: every problem is a `Problem` in `snapshot.errors` (the set must be
rejected) or `snapshot.warnings` (a tolerated deviation). Only programming errors raise.
"""

from __future__ import annotations

from pathlib import Path

from schoolgate.sync.readers.base import (
    MEMBERSHIP_COLUMNS,
    ORG_COLUMNS,
    PERSON_COLUMNS,
    RELATION_COLUMNS,
    Mode,
    PersonKind,
    Problem,
    Rejected,
    Snapshot,
)
from schoolgate.sync.readers.oneroster import read_oneroster
from schoolgate.sync.readers.problems import ProblemLog
from schoolgate.sync.readers.sds import looks_like_sds_users, read_sds
from schoolgate.sync.readers.source import FileSet, open_fileset, read_header
from schoolgate.sync.readers.spec import HEADER_TYPOS, USERS_11
from schoolgate.sync.readers.values import check_values

__all__ = [
    "FORMATS",
    "MEMBERSHIP_COLUMNS",
    "ORG_COLUMNS",
    "PERSON_COLUMNS",
    "RELATION_COLUMNS",
    "Mode",
    "PersonKind",
    "Problem",
    "Rejected",
    "Snapshot",
    "read_snapshot",
]

FORMATS = ("auto", "oneroster", "sds")


def read_snapshot(
    path: Path | str, format: str = "auto", tolerant: bool = False, *, max_problems: int = 200
) -> Snapshot:
    """Read one SIS file set (a folder or a .zip) into a `Snapshot`.

    `format` is "auto" (detect), "oneroster" or "sds". `tolerant` turns the known real-world deviations
    (see oneroster-csv.md) from errors into warnings with a stated handling. At most `max_problems` errors
    and as many warnings are listed per file, followed by one saying how many more there were.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    log = ProblemLog(max_problems, tolerant)
    fs = open_fileset(Path(path), log)
    if fs is None:
        snapshot = Snapshot(format="unknown" if format == "auto" else _default_format(format))
    else:
        with fs:
            snapshot = _read(fs, format, log)
    snapshot.errors, snapshot.warnings = log.finish()
    return snapshot


def _default_format(format: str) -> str:
    return "sds-2.1" if format == "sds" else "oneroster-1.1"


def _read(fs: FileSet, format: str, log: ProblemLog) -> Snapshot:
    if format == "auto":
        format = detect(fs, log) or ""
        if not format:
            return Snapshot(format="unknown")
    snapshot = read_sds(fs, log) if format == "sds" else read_oneroster(fs, log)
    check_values(snapshot, log, fs.nul_free)
    return snapshot


def detect(fs: FileSet, log: ProblemLog) -> str | None:
    """ "oneroster" or "sds" from the files present; None (with an error explaining why) if neither fits.

    manifest.csv → OneRoster; relationships.csv or an SDS users.csv header → SDS; a users.csv with the
    OneRoster 1.1 header (and no manifest) → OneRoster 1.0.
    """
    if fs.has("manifest.csv"):
        return "oneroster"
    if fs.has("relationships.csv"):
        return "sds"
    header = None
    quiet = ProblemLog(1, log.tolerant)
    if fs.has("users.csv"):
        # Header problems are reported when the file is read for real; detection only needs a peek.
        path = fs.path("users.csv", log)
        header = read_header(path, "users.csv", quiet) if path is not None else None
        if header is not None:
            if looks_like_sds_users(header):
                return "sds"
            names = [HEADER_TYPOS.get(n, n) for n in header if not n.startswith("metadata.")]
            if names == USERS_11:
                return "oneroster"
    found = ", ".join(fs.names[:12]) or "no files"
    detail = f" users.csv starts with {','.join(header[:6])}…;" if header else ""
    if header is None and fs.has("users.csv"):
        unreadable = quiet.finish()[0]
        detail = f" users.csv {unreadable[0].message.rstrip('.')};" if unreadable else ""
    log.error(
        fs.label,
        None,
        None,
        f"is not a file set this importer recognises ({found});{detail} expected a OneRoster set with "
        f"manifest.csv (1.1 or 1.2), a OneRoster 1.0 set whose users.csv has the 1.1 header "
        f"({','.join(USERS_11[:6])},…), or a Microsoft SDS v2.1 set (users.csv with sourcedId and username, "
        f"roles.csv, and optionally relationships.csv).",
    )
    return None
