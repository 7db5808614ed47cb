"""A file set sent again unchanged: recognised by its content, so that it costs seconds, not a full read.

SIS exports arrive on a schedule whether or not anything changed (weekends, holidays, a retried upload), and a
bulk set of a large district takes seconds to read and compare person by person. So every applied run
records, per district, the *content key* of the bulk set it applied and a *people check* (counts and a sum
over the stored fingerprints). When a run is handed a set with the same key and the people check still
matches — nothing but a sync writes fingerprints, and a merge clears them, which changes the check —
comparing fingerprints could only conclude "nobody changed". The run then skips the read and stages nobody,
exactly as that comparison would, and every later step (rules, reconciliation, usernames, change notices)
runs as usual.

The content key does not depend on the order of a CSV file's rows: many SIS exports come from a query with
no fixed order, and the same rows in another order are the same set. A CSV file counts by its header line
and the multiset of its other lines (their number and two 64-bit sums of line hashes, one streaming polars
pass, faster than SHA-256 of the bytes); other files, files polars cannot split into lines, and a .zip count
by their bytes (SHA-256). Row order changes nothing a reader decides — a line is read the same wherever it
stands, and whatever depends on order (which of two repeats comes first) is an error or a warning — except
the line numbers that warnings quote. So a run whose files gave warnings also records the *exact key* (the
bytes), and only the same bytes are recognised as that set.

The match is decided twice: once before the read (a plain lookup, to skip it) and again with the district
locked, where the record cannot change under the run; if the district moved on in between, the run rolls back
and reads the set after all (`Stale`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from schoolgate import __version__
from schoolgate.core import sql
from schoolgate.core.models import District
from schoolgate.people.models import Person
from schoolgate.sync.models import AppliedSet
from schoolgate.sync.readers.base import Mode, Problem, Snapshot
from schoolgate.sync.readers.table import raw_lines


class Stale(Exception):
    """The district's applied set changed between the lookup and the lock: read the set after all."""


@dataclass(frozen=True)
class Known:
    """The district's record of its applied set, as found before the read."""

    key: str
    exact_key: str  # the files' bytes, when their warnings name lines; else ""
    run_id: int | None
    people_check: str
    people_in_sis: int
    format: str
    warnings: list[dict[str, Any]]


LINE_SEEDS = (0x5C4001, 0x5C4002)  # two independent line hashes: about 128 bits against chance collisions


def content_key(
    path: Path | str, *, format: str, tolerant: bool, seed: int, exact: bool = False
) -> str | None:
    """The content key of a folder or .zip; None when it is neither or cannot be read (the reader reports it).

    A .zip counts by its bytes alone (an upload is stored under a new name each time). In a folder, every
    regular file and those of its sub-folders one level down count by name and content, so a file added,
    renamed or edited anywhere the reader could look gives a new key; a CSV file's content is its header and
    the multiset of its rows (module docstring), or with `exact` its bytes. The options and what the stored
    fingerprints depend on (the seed, the polars version) are part of the key.
    """
    path = Path(path)
    digest = hashlib.sha256(f"{__version__}|{pl.__version__}|{seed}|{format}|{tolerant}".encode())
    try:
        if path.is_file():
            files = [("", path)]
            exact = True
        elif path.is_dir():
            inner = [i for d in path.iterdir() if d.is_dir() for i in d.iterdir()]
            files = sorted((str(i.relative_to(path)), i) for i in [*path.iterdir(), *inner] if i.is_file())
        else:
            return None
        for name, item in files:
            content = None if exact or item.suffix.lower() != ".csv" else _rows_digest(item)
            if content is None:
                with item.open("rb") as handle:
                    content = hashlib.file_digest(handle, "sha256").hexdigest()
            digest.update(f"\n{name}\n{content}".encode())
    except OSError:
        return None
    return digest.hexdigest()


def _rows_digest(path: Path) -> str | None:
    """A CSV file's header line and the multiset of all its lines: the same for its rows in any order.

    The lines as the structure scan reads them (`readers.table.raw_lines`); None when polars cannot split
    the file into lines (not UTF-8, or a 0x1F byte, which it splits on)."""
    raw = pl.col("raw")
    try:
        found = (
            raw_lines(path)
            .select(
                raw.first().alias("header"),
                pl.len().alias("lines"),
                *[raw.hash(seed).sum().alias(f"sum{i}") for i, seed in enumerate(LINE_SEEDS)],
            )
            .collect(engine="streaming")
        )
    except pl.exceptions.PolarsError:
        return None
    header, count, *sums = found.row(0)
    header_digest = hashlib.sha256((header or "").encode()).hexdigest()
    return f"rows:{header_digest}:{count}:{':'.join(str(s) for s in sums)}"


@dataclass(frozen=True)
class People:
    """One pass over a district's people: the check an applied set records, and the exact sums of the stored
    fingerprints of those in the SIS (`fingerprint` compares a set's fingerprints with them)."""

    check: str  # counts and reduced sums over every person's fingerprint, SIS presence and merge
    in_sis: int
    in_sis_with_digest: int
    digest_sums: tuple[int, int]  # exact sums of the high and low 32 bits of the in-SIS fingerprints


def read_people(cursor: Any, district: District) -> People:
    """The check and sums over the district's people, in one pass and no rows returned.

    The check is a sum of the fingerprints (reduced, so it cannot overflow) and counts: any write other than a
    sync's — a merge clears two fingerprints — changes it.
    """
    in_sis_digest = "CASE WHEN in_sis THEN sis_digest END"
    cursor.execute(
        f"""SELECT COUNT(*), COUNT(sis_digest), COUNT(merged_into_id),
                   COALESCE(SUM(CASE WHEN in_sis THEN 1 ELSE 0 END), 0),
                   COALESCE(SUM(sis_digest %% 1000003), 0), COALESCE(SUM(merged_into_id %% 1000003), 0),
                   COUNT({in_sis_digest}),
                   COALESCE(SUM(({in_sis_digest} - ({in_sis_digest} & 4294967295)) / 4294967296), 0),
                   COALESCE(SUM({in_sis_digest} & 4294967295), 0)
            FROM {sql.table(Person)} WHERE district_id = %s""",
        [district.pk],
    )
    row = [int(value) for value in cursor.fetchone()]
    return People(":".join(str(value) for value in row[:6]), row[3], row[6], (row[7], row[8]))


def lookup(district: District, key: str | None, exact_key: Callable[[], str | None]) -> Known | None:
    """The district's applied set if it has this key (a plain read; `confirm` checks it under the lock).

    `exact_key` gives the set's exact key; it is asked only when the applied set's warnings name lines."""
    if key is None:
        return None
    found = AppliedSet.objects.filter(district=district, content_key=key).select_related("run").first()
    if found is None or (found.exact_key and exact_key() != found.exact_key):
        return None
    run = found.run
    return Known(
        key=key,
        exact_key=found.exact_key,
        run_id=found.run_id,
        people_check=found.people_check,
        people_in_sis=found.people_in_sis,
        format=run.format if run else "",
        warnings=list(run.warnings) if run else [],
    )


def confirm(cursor: Any, district: District, known: Known) -> None:
    """With the district locked: raise `Stale` unless its applied set is still `known` and untouched."""
    record = AppliedSet.objects.filter(district=district).first()
    if record is None or record.content_key != known.key or record.run_id != known.run_id:
        raise Stale
    if read_people(cursor, district).check != known.people_check:
        raise Stale


def nothing_to_stage(known: Known) -> Snapshot:
    """What comparing the fingerprints would leave of the set: nobody to stage, the orgs untouched (nothing
    but a sync writes them), and the warnings the set's files gave when they were read. Warnings that name
    no file (overrides the rules disagree with) come from the district, not the files: the run finds them
    again itself."""
    snapshot = Snapshot(format=known.format)
    snapshot.modes = {
        "orgs": Mode.ABSENT,
        "people": Mode.DELTA,
        "relations": Mode.DELTA,
        "memberships": Mode.DELTA,
    }
    snapshot.memberships_replace_owners = True
    snapshot.warnings = [
        Problem(w["file"], w["line"], w["column"], w["message"]) for w in known.warnings if w["file"]
    ]
    return snapshot


def record(
    cursor: Any,
    district: District,
    key: str | None,
    run_id: int | None,
    known: Known | None = None,
    exact_key: str = "",
    people: People | None = None,
) -> None:
    """After a run is applied (in its transaction): remember the set it applied, or that none is known.

    `key` is None when the run's people were not a bulk set (a delta set says nothing about the others).
    `exact_key` is given when the run's warnings name lines of its files (module docstring).
    `known` is given when the run was the same set sent again: it staged nobody, so it wrote no fingerprint
    and the check confirmed under the lock still holds (one pass over the people saved). `people` is given
    when the run read its set and staged nobody: the pass that found that, in this transaction, still holds.
    """
    if key is None:
        AppliedSet.objects.filter(district=district).delete()
        return
    if known is not None:
        check, in_sis = known.people_check, known.people_in_sis
    else:
        people = people or read_people(cursor, district)
        check, in_sis = people.check, people.in_sis
    AppliedSet.objects.update_or_create(
        district=district,
        defaults={
            "content_key": key,
            "exact_key": exact_key,
            "run_id": run_id,
            "people_check": check,
            "people_in_sis": in_sis,
        },
    )
