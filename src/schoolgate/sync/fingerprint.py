"""Fingerprints: narrow a bulk file set to the people who changed, before anything is staged.

A bulk OneRoster or SDS export lists every person, every day, though few change. Each person's fingerprint
(a 64-bit hash of their normalised row, their declared relations and their memberships) is stored on the
person. Before staging, the new fingerprints are computed in polars and compared with the stored ones; only
people whose fingerprint differs, who are new, who come back, or who are gone are staged, and the set is then
applied with delta semantics for exactly those people. The district ends up exactly as a full bulk apply
would leave it, at the cost of the changes rather than of the district's size.

Bulk sets must be referentially complete; because unchanged people are not staged, that is checked here,
over the whole set, rather than in SQL.

The hash is polars' own, stable within a polars version (pinned by the lock file). After an upgrade that
changes it, every fingerprint differs once and the next sync simply restages everyone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from schoolgate.core import sql
from schoolgate.core.models import District
from schoolgate.people.models import Person
from schoolgate.sync import resent
from schoolgate.sync.models import AppliedSet
from schoolgate.sync.readers.base import PERSON_COLUMNS, Mode, Problem, Snapshot

SEED = 20261122  # change to invalidate every stored fingerprint
ROW_FIELDS = [name for name in PERSON_COLUMNS if name not in ("file", "line", "status")]
ROW_HASH_SLICE = 250_000


@dataclass
class Narrowed:
    snapshot: Snapshot
    staged: int  # people staged (changed, new, returning, or gone)
    unchanged: int
    # The pass over the district's people that found nobody to stage: still true when the run records its set.
    people: resent.People | None = None


def _active(people: pl.DataFrame) -> pl.DataFrame:
    """The active people of a set; the frame itself when all are (a filter would copy every column)."""
    active = pl.col("status") == "active"
    return people if people.select(active.all()).item() else people.filter(active)


def _row_hashes(people: pl.DataFrame) -> pl.DataFrame:
    """code, line, row hash. Hashed a slice at a time: hashing a struct materialises its rows, which for three
    million people at once took 1 GB more memory than the whole result (the hash of a row does not depend
    on its neighbours, so slicing changes no value)."""
    parts = [
        people.slice(offset, ROW_HASH_SLICE).select(
            "code", "line", pl.struct(ROW_FIELDS).hash(seed=SEED).alias("row")
        )
        for offset in range(0, people.height, ROW_HASH_SLICE)
    ]
    if not parts:
        return people.select("code", "line", row=pl.lit(None, pl.UInt64))
    return pl.concat(parts)


def _split_from(people: pl.DataFrame, rows: pl.DataFrame) -> bool:
    """Were `rows` split out of the people's own rows (OneRoster agent and org lists on users.csv)?

    Then each person's rows carry the person's `line`, a cheaper key than the code: grouping and joining
    three million people by an integer instead of a string saves about half a second."""
    if people.is_empty() or rows.is_empty():
        return False
    file = people.get_column("file")[0]
    return bool(
        people.select((pl.col("file") == file).all()).item()
        and rows.select((pl.col("file") == file).all()).item()
    )


def _set_hashes(
    people: pl.LazyFrame, frame: pl.DataFrame, by_line: bool, owner: str, columns: list[str], name: str
) -> pl.LazyFrame:
    """`people` with `name`: an order-independent hash of the set of `frame` rows each person owns (the sum
    of 48-bit row hashes, so sums never overflow; 0 when the person owns none)."""
    key = "line" if by_line else owner
    row = pl.struct([pl.col(c) for c in columns]).hash(seed=SEED) // 65536
    sets = frame.lazy().group_by(key).agg(row.cast(pl.Int64).sum().alias(name))
    return people.join(
        sets, left_on="line" if by_line else "code", right_on=key, how="left", maintain_order="left"
    ).with_columns(pl.col(name).fill_null(0))


def digests(snapshot: Snapshot) -> pl.DataFrame:
    """code → fingerprint (Int64) for every active person of the set, in the order of `snapshot.people`.

    Rows are hashed as structs and a person's relations and memberships are combined with an order-free sum,
    so nothing is sorted or joined into strings: at three million people this is about a second, not tens.
    """
    active = _active(snapshot.people)
    people = _row_hashes(active).lazy()
    people = _set_hashes(
        people,
        snapshot.relations,
        _split_from(active, snapshot.relations),
        "declarer_code",
        ["other_code", "relationship"],
        "rels",
    )
    people = _set_hashes(
        people,
        snapshot.memberships,
        _split_from(active, snapshot.memberships),
        "person_code",
        ["org_code", "role", "is_primary", "status"],
        "mems",
    )
    # One lazy query, so that polars frees each intermediate as soon as it is used.
    return people.select(
        "code",
        pl.struct("row", "rels", "mems").hash(seed=SEED).reinterpret(signed=True).alias("digest"),
    ).collect()


def stored_digests(cursor: Any, district: District) -> pl.DataFrame:
    """code and stored fingerprint (null if none) of every person the district holds who is in the SIS.

    People no longer in the SIS are left out: a set that names one again finds no stored fingerprint, which
    stages them as returning, exactly as their own would. Leavers pile up over the years, so this is also
    what keeps the export from growing with them."""
    query = (
        f"SELECT sis_code, sis_digest FROM {sql.table(Person)}"
        f" WHERE district_id = {int(district.pk)} AND in_sis = {sql.sql_true()}"
    )
    return sql.read_frame(cursor, query, {"code": pl.Utf8, "stored": pl.Int64})


def merged_groups(cursor: Any, district: District) -> pl.DataFrame:
    """code of every merged record and, as grp, the code of the record it was merged into (a few rows)."""
    person = sql.table(Person)
    query = (
        f"SELECT p.sis_code, m.sis_code FROM {person} p JOIN {person} m ON m.id = p.merged_into_id"
        f" WHERE p.district_id = {int(district.pk)} AND p.merged_into_id IS NOT NULL"
    )
    return sql.read_frame(cursor, query, {"code": pl.Utf8, "grp": pl.Utf8})


def check_references(snapshot: Snapshot, max_problems: int) -> list[Problem]:
    """A bulk set must name only people and orgs it contains (active)."""
    active = _active(snapshot.people)
    relations = snapshot.relations.lazy()
    if not (active is snapshot.people and _split_from(active, snapshot.relations)):
        # Only what active people of the set declare is applied. (When every person is active and the
        # relations came from their own rows, every declarer is one: the test is skipped.) A null code is in
        # no set, as a join would have it.
        codes = active.get_column("code").implode()
        relations = relations.filter(pl.col("declarer_code").is_in(codes).fill_null(False))
    problems: list[Problem] = []
    broken = (
        relations.join(active.lazy().select("code"), left_on="other_code", right_on="code", how="anti")
        .sort("file", "line")
        .head(max_problems)
        .collect()
    )
    for row in broken.iter_rows(named=True):
        problems.append(
            Problem(
                row["file"],
                row["line"],
                row["column"],
                f"names {row['other_code']!r}, which is not an active user in this set or the district",
            )
        )
    if snapshot.modes["orgs"] == Mode.BULK:
        orgs = snapshot.orgs.lazy().filter(pl.col("status") == "active").select("code")
        for row in (
            snapshot.memberships.lazy()
            .filter(pl.col("status") == "active")
            .join(orgs, left_on="org_code", right_on="code", how="anti")
            .head(max_problems)
            .collect()
            .iter_rows(named=True)
        ):
            problems.append(
                Problem(
                    row["file"],
                    row["line"],
                    row["column"],
                    f"names org {row['org_code']!r}, which is not an active org in this set or the district",
                )
            )
    return problems


def _with_merged_groups(dirty: pl.DataFrame, new: pl.DataFrame, merged: pl.DataFrame) -> pl.DataFrame:
    """If one record of a merged group changed, restage the whole group (they declare relations together).

    A group is a record that others were merged into and those others (`merged`: code, grp)."""
    if merged.height == 0:
        return dirty
    survivors = merged.select(code=pl.col("grp"), grp=pl.col("grp")).unique()
    groups = pl.concat([merged, survivors], how="vertical")
    touched = groups.join(dirty.select("code"), on="code", how="semi").select("grp").unique()
    extra = (
        groups.join(touched, on="grp", how="semi").join(new, on="code", how="inner").select("code", "digest")
    )
    return pl.concat([dirty, extra], how="vertical").unique(subset="code", keep="first")


def _of(frame: pl.DataFrame, column: str, codes: pl.DataFrame) -> pl.DataFrame:
    """The rows of `frame` whose `column` is one of `codes`; the frame itself when that is every row."""
    keep = frame.get_column(column).is_in(codes.get_column("code").implode())
    return frame if keep.all() else frame.filter(keep)


def _with_digests(people: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """`people` with each one's new fingerprint as `digest` (null for an inactive row). When `new` covers
    every row (all active: `digests` computed them in this order), the column is attached as it is — a join
    would copy every column, gigabytes at a million students."""
    if new.height == people.height:
        return people.with_columns(new.get_column("digest"))
    return people.join(new, on="code", how="left", maintain_order="left")


def _sums(column: str) -> list[pl.Expr]:
    """Exact sums of a 64-bit column's high and low 32 bits (no overflow below two billion rows)."""
    low = pl.col(column) & 0xFFFFFFFF
    return [((pl.col(column) - low) // 4294967296).sum().alias("high"), low.sum().alias("low")]


def _all_as_stored(cursor: Any, district: District, new: pl.DataFrame) -> resent.People | None:
    """The pass over the district's people if the set's fingerprints are exactly those stored for the people
    in the SIS; else None.

    Compared as multisets, by count and exact sums, in one pass over the people and no rows returned:
    exporting three million stored fingerprints to compare them one by one takes seconds. A fingerprint
    hashes its person's code, so equal multisets mean every person matches their own stored fingerprint,
    unless 64-bit hashes collide in a sum (about one chance in 2^64 for a set that did change). A person
    without a stored fingerprint (new, returning, merged) or a set with nobody in it never matches."""
    if new.is_empty():
        return None
    applied = AppliedSet.objects.filter(district=district).values_list("people_in_sis", flat=True).first()
    if applied is not None and applied != new.height:
        return None  # the last bulk set had another number of people: skip the pass (a hint, never trusted)
    people = resent.read_people(cursor, district)
    if people.in_sis != new.height or people.in_sis_with_digest != people.in_sis:
        return None
    return people if new.select(_sums("digest")).row(0) == people.digest_sums else None


def _compare(new: pl.DataFrame, stored: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(code, digest) of the people to stage — new, changed or returning — and the codes of the people in
    the SIS (`stored`: code, stored) who are not in the set any more.

    Matched by fingerprint, a 64-bit integer, not by code: at three million people a join on the codes
    took about 200 MB more, this under 90 MB, in the same half second. A fingerprint hashes its
    person's code, so a new fingerprint that is stored belongs to the same person, unchanged, unless two
    people's fingerprints collide; the pairs (code, fingerprint) matched on either side are then compared by
    count and sums of their hashes, and should they differ, the codes are joined after all (`_by_code`)."""
    known = stored.filter(pl.col("stored").is_not_null())
    kept = new.get_column("digest").is_in(known.get_column("stored").implode())
    still = known.get_column("stored").is_in(new.get_column("digest").implode())
    if _pairs(new, "digest", kept) != _pairs(known, "stored", still):
        return _by_code(new, stored)
    # The stored people whose fingerprint is not in the set changed or left: those not named any more left.
    unmatched = pl.concat([known.filter(~still), stored.filter(pl.col("stored").is_null())]).select("code")
    named = new.filter(pl.col("code").is_in(unmatched.get_column("code").implode())).select("code")
    return new.filter(~kept).select("code", "digest"), unmatched.join(named, on="code", how="anti")


def _pairs(frame: pl.DataFrame, digest: str, mask: pl.Series) -> tuple[int, ...]:
    """Count and exact sums of the hashes of (code, fingerprint) over the rows of `mask`."""
    # Mixed before hashing, so no two pairs sum alike unless 64-bit hashes collide (a struct of the two cost
    # twice the memory).
    pair = (pl.col("code").hash(seed=SEED) ^ pl.col(digest).reinterpret(signed=False)).hash(seed=SEED)
    pair = pair.reinterpret(signed=True)
    return frame.select(pair.alias("pair")).filter(mask).select(pl.len(), *_sums("pair")).row(0)


def _by_code(new: pl.DataFrame, stored: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What `_compare` finds, by joining the codes: exact whatever the fingerprints, and the costlier way."""
    dirty = (
        new.lazy()
        .join(stored.lazy(), on="code", how="left")
        .filter(pl.col("stored").is_null() | (pl.col("stored") != pl.col("digest")))
        .select("code", "digest")
        .collect()
    )
    gone = stored.lazy().join(new.lazy(), on="code", how="anti").select("code").collect()
    return dirty, gone


def narrow(
    cursor: Any, district: District, snapshot: Snapshot, *, full: bool = False, max_problems: int = 200
) -> Narrowed:
    """The snapshot cut down to the people whose fingerprint changed (bulk people sets only).

    With `full`, nothing is cut: every person is staged (and every fingerprint rewritten).
    """
    if snapshot.modes["people"] != Mode.BULK:
        return Narrowed(snapshot, snapshot.people.height, 0)
    problems = check_references(snapshot, max_problems)
    if problems:
        return Narrowed(replace(snapshot, errors=[*snapshot.errors, *problems]), 0, 0)
    new = digests(snapshot)
    if full:
        people = _with_digests(snapshot.people, new)
        return Narrowed(replace(snapshot, people=people), people.height, 0)
    as_stored = _all_as_stored(cursor, district, new)
    if as_stored is not None:  # the usual day: nobody changed, nothing to export
        dirty, gone = new.clear(), pl.DataFrame(schema={"code": pl.Utf8})
    else:
        dirty, gone = _compare(new, stored_digests(cursor, district))
        dirty = _with_merged_groups(dirty, new, merged_groups(cursor, district))
    if dirty.height == new.height:  # everyone is staged: a first import, a restage after a polars upgrade
        people = _active(_with_digests(snapshot.people, new))
    else:
        # Filtered first: joining all the set's people with the (usually few) changed ones cost 600 MB at
        # three million people, even with nobody changed.
        people = _active(_of(snapshot.people, "code", dirty).join(dirty, on="code", how="inner"))
    retired = gone.select(
        *[
            (pl.col("code") if name == "code" else pl.lit("tobedeleted" if name == "status" else None))
            .cast(dtype)
            .alias(name)
            for name, dtype in PERSON_COLUMNS.items()
        ],
        pl.lit(None, pl.Int64).alias("digest"),
    )
    staged_codes = people.select("code")
    narrowed = replace(
        snapshot,
        people=pl.concat([people, retired], how="vertical"),
        relations=_of(snapshot.relations, "declarer_code", staged_codes),
        memberships=_of(snapshot.memberships, "person_code", staged_codes),
        modes={**snapshot.modes, "people": Mode.DELTA, "relations": Mode.DELTA, "memberships": Mode.DELTA},
        memberships_replace_owners=True,
    )
    if snapshot.modes["relations"] == Mode.ABSENT:
        narrowed.modes["relations"] = Mode.ABSENT
    if snapshot.modes["memberships"] == Mode.ABSENT:
        narrowed.modes["memberships"] = Mode.ABSENT
    return Narrowed(narrowed, people.height + retired.height, new.height - people.height, as_stored)
