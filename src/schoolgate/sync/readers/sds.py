"""Microsoft School Data Sync (SDS) v2.1 CSV file sets → `Snapshot`.

SDS matches columns by (case-sensitive) header name, so column order is free and optional columns may be left
out. Every SDS upload is a full picture: all frames are bulk, every row active, and `enabled` is null (SDS has
no such field; the engine treats null as enabled).

People get their kind from roles.csv (student → student, alumni → none, every other SDS role → staff). Users
with no roles row who are named as `relationshipUserSourcedId` in relationships.csv are contacts; their
`roles` are their relationship roles. A staff member who is also someone's guardian keeps both in `roles`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import polars as pl

from schoolgate.sync.readers import frames
from schoolgate.sync.readers.base import (
    MEMBERSHIP_COLUMNS,
    ORG_COLUMNS,
    PERSON_COLUMNS,
    RELATION_COLUMNS,
    Mode,
    PersonKind,
    Snapshot,
)
from schoolgate.sync.readers.problems import ProblemLog, quote
from schoolgate.sync.readers.source import FileSet
from schoolgate.sync.readers.spec import (
    SDS_IGNORED_ROLES,
    SDS_ORGS_OPTIONAL,
    SDS_ORGS_REQUIRED,
    SDS_RELATIONSHIP_VOCAB,
    SDS_RELATIONSHIPS_REQUIRED,
    SDS_ROLE_VOCAB,
    SDS_ROLES_OPTIONAL,
    SDS_ROLES_REQUIRED,
    SDS_USERS_OPTIONAL,
    SDS_USERS_REQUIRED,
    sds_kind,
)
from schoolgate.sync.readers.table import load_table

FORMAT = "sds-2.1"
ORGS_FILE, USERS_FILE, ROLES_FILE, RELATIONSHIPS_FILE = (
    "orgs.csv",
    "users.csv",
    "roles.csv",
    "relationships.csv",
)
EMPTY_HINT = " (leave relationships.csv out if there are no relationships)"
ACTIVE = "active"

# Columns parsed per file (others are ignored); password and activeDirectoryMatchId are never needed.
USERS_NEEDED = ("sourcedId", "username", "givenName", "familyName", "email", "phone", "sms")
ROLES_NEEDED = ("userSourcedId", "orgSourcedId", "role", "grade", "isPrimary")


def looks_like_sds_users(header: list[str]) -> bool:
    """True for an SDS users.csv header: SDS users have no OneRoster status/enabledUser columns."""
    return "sourcedId" in header and "username" in header and not {"status", "enabledUser"} & set(header)


def header_resolver(
    log: ProblemLog, file: str, required: Iterable[str], optional: Iterable[str], needed: Iterable[str]
) -> Callable[[list[str]], dict[str, int] | None]:
    """A `resolve_header` for `load_table`: required columns by name, optional ones if present."""
    required, optional, needed = tuple(required), tuple(optional), set(needed)

    def resolve(found: list[str]) -> dict[str, int] | None:
        known = (*required, *optional)
        expected = f"SDS v2.1 {file} needs the columns {', '.join(required)}"
        if optional:
            expected += f" and may have {', '.join(optional)}"
        seen: dict[str, int] = {}
        ok = True
        for i, name in enumerate(found):
            if name in seen:
                log.error(
                    file,
                    1,
                    name,
                    f"the header names {quote(name)} twice (columns {seen[name] + 1} and {i + 1}).",
                )
                ok = False
            seen.setdefault(name, i)
        for name in required:
            if name not in seen:
                near = next((n for n in found if n.lower() == name.lower()), None)
                hint = f" (found {quote(near)}; headers are case-sensitive)" if near else ""
                log.error(file, 1, None, f"the header has no '{name}' column{hint}. {expected}.")
                ok = False
        for i, name in enumerate(found):
            if name not in known and seen.get(name) == i:
                log.warning(
                    file,
                    1,
                    name or None,
                    f"column {i + 1} ({quote(name)}) is not an SDS v2.1 {file} column and was ignored.",
                )
        if not ok:
            return None
        return {name: i for name, i in seen.items() if name in known and (name in needed or name in required)}

    return resolve


def _load(
    fs: FileSet,
    log: ProblemLog,
    file: str,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    needed: Iterable[str] = (),
) -> pl.DataFrame | None:
    resolve = header_resolver(log, file, required, optional, needed)
    frame = load_table(fs, file, log, resolve, EMPTY_HINT if file == RELATIONSHIPS_FILE else "")
    if frame is None:
        return None
    absent = [c for c in (*required, *optional) if c in needed and c not in frame.columns]
    return frame.with_columns(pl.lit(None, pl.Utf8).alias(c) for c in absent)


def _vocabulary(
    log: ProblemLog, file: str, frame: pl.DataFrame, column: str, vocab: frozenset[str], *, skip: bool
) -> pl.DataFrame:
    """Values outside `vocab`: errors; tolerant: matched regardless of case, else the row skipped or kept."""
    value = pl.col(column)
    outside = value.is_not_null() & ~value.is_in(sorted(vocab))
    bad = frame.filter(outside).select("line", column)
    if not bad.height:
        return frame
    if not log.tolerant:
        log.rows(
            "error",
            file,
            column,
            bad,
            lambda row: f"{column} is {quote(row[column])}; expected one of {', '.join(sorted(vocab))}.",
        )
        return frame
    lookup = {v.lower(): v for v in vocab}
    fixed = value.str.to_lowercase().replace_strict(lookup, default=None, return_dtype=pl.Utf8)
    frame = frame.with_columns(_fixed=pl.when(outside).then(fixed).otherwise(value), _outside=outside)
    unmatched = pl.col("_outside") & pl.col("_fixed").is_null()
    log.rows(
        "warning",
        file,
        column,
        frame.filter(pl.col("_outside") & pl.col("_fixed").is_not_null()).select("line", column, "_fixed"),
        lambda row: (
            f"{column} is {quote(row[column])}, not an SDS v2.1 value. Tolerated: read as '{row['_fixed']}'."
        ),
    )
    handling = "the row was skipped." if skip else "kept as given."
    log.rows(
        "warning",
        file,
        column,
        frame.filter(unmatched).select("line", column),
        lambda row: f"{column} is {quote(row[column])}, not an SDS v2.1 value. Tolerated: {handling}",
    )
    # Unmatched relationship roles are only labels, so they are kept; unmatched roles give no kind: skipped.
    frame = frame.filter(~unmatched) if skip else frame.with_columns(_fixed=pl.coalesce("_fixed", column))
    return frame.with_columns(pl.col("_fixed").alias(column)).drop("_fixed", "_outside")


def read_sds(fs: FileSet, log: ProblemLog) -> Snapshot:
    """Read an SDS v2.1 set: orgs, users and roles are required, relationships optional."""
    snapshot = Snapshot(format=FORMAT)
    for file in (ORGS_FILE, USERS_FILE, ROLES_FILE):
        if not fs.has(file):
            other = fs.near_miss(file)
            hint = f" (there is a {other}; file names are case-sensitive)" if other else ""
            log.error(
                file,
                None,
                None,
                f"is missing; an SDS v2.1 set needs orgs.csv, users.csv and roles.csv{hint}.",
            )
    orgs = (
        _load(
            fs, log, ORGS_FILE, SDS_ORGS_REQUIRED, SDS_ORGS_OPTIONAL, (*SDS_ORGS_REQUIRED, *SDS_ORGS_OPTIONAL)
        )
        if fs.has(ORGS_FILE)
        else None
    )
    users = (
        _load(fs, log, USERS_FILE, SDS_USERS_REQUIRED, SDS_USERS_OPTIONAL, USERS_NEEDED)
        if fs.has(USERS_FILE)
        else None
    )
    roles = (
        _load(fs, log, ROLES_FILE, SDS_ROLES_REQUIRED, SDS_ROLES_OPTIONAL, ROLES_NEEDED)
        if fs.has(ROLES_FILE)
        else None
    )
    relationships = None
    if fs.has(RELATIONSHIPS_FILE):
        relationships = _load(
            fs, log, RELATIONSHIPS_FILE, SDS_RELATIONSHIPS_REQUIRED, (), SDS_RELATIONSHIPS_REQUIRED
        )

    if orgs is not None:
        frames.require(log, ORGS_FILE, orgs, "sourcedId", "every org needs its identifier.")
        frames.unique(log, ORGS_FILE, orgs, "sourcedId")
        snapshot.orgs = frames.shape(
            orgs,
            ORG_COLUMNS,
            file=pl.lit(ORGS_FILE),
            code=pl.col("sourcedId"),
            status=pl.lit(ACTIVE),
            org_type=pl.col("type"),
            parent_code=pl.col("parentSourcedId"),
        )
        snapshot.modes["orgs"] = Mode.BULK

    named: list[pl.Series] = []  # users any roles/relationships row names, even rows skipped when tolerant
    pairs: list[pl.DataFrame] = []  # (person_code, role, kind) for kinds and roles
    if roles is not None:
        roles = _check_roles(log, roles, named)
        pairs.append(
            roles.select(
                person_code="userSourcedId",
                role="role",
                kind=frames.kind_of(pl.col("role"), {r: sds_kind(r) for r in SDS_ROLE_VOCAB}),
            )
        )
    if relationships is not None:
        relationships = _check_relationships(log, relationships, named)
        pairs.append(
            relationships.select(
                person_code="relationshipUserSourcedId",
                role="relationshipRole",
                kind=pl.lit(PersonKind.CONTACT.value),
            )
        )

    skipped = pl.Series("code", [], pl.Utf8)
    if users is not None:
        frames.require(log, USERS_FILE, users, "sourcedId", "every user needs its identifier.")
        frames.unique(log, USERS_FILE, users, "sourcedId")
        kinds = frames.kinds_by_person(
            pl.concat(pairs)
            if pairs
            else pl.DataFrame(schema={"person_code": pl.Utf8, "role": pl.Utf8, "kind": pl.Utf8})
        )
        grades = (
            roles.select(person_code="userSourcedId", grade="grade")
            .drop_nulls()
            .group_by("person_code")
            .agg(grades=pl.col("grade").unique().sort().str.join(","))
            if roles is not None
            else pl.DataFrame(schema={"person_code": pl.Utf8, "grades": pl.Utf8})
        )
        people = users.join(
            kinds, left_on="sourcedId", right_on="person_code", how="left", maintain_order="left"
        ).join(grades, left_on="sourcedId", right_on="person_code", how="left", maintain_order="left")
        all_named = pl.concat(named).unique() if named else pl.Series("code", [], pl.Utf8)
        known = pl.col("sourcedId").is_in(all_named.implode())
        unnamed = people.filter(pl.col("sourcedId").is_not_null() & ~known).select("line", "sourcedId")
        log.rows(
            "error",
            USERS_FILE,
            None,
            unnamed,
            lambda row: (
                f"user {quote(row['sourcedId'])} has no role in roles.csv and is not a "
                f"relationshipUserSourcedId in relationships.csv; every user needs one of the two."
            ),
        )
        kindless = people.filter(known & pl.col("kind").is_null()).select("line", "sourcedId", "roles")
        log.rows(
            "warning",
            USERS_FILE,
            None,
            kindless,
            lambda row: (
                f"user {quote(row['sourcedId'])} only has the role(s) {quote(row['roles'])}, which "
                f"Schoolgate does not import ({', '.join(sorted(SDS_IGNORED_ROLES))}, or roles skipped "
                f"above); the user was not imported."
            ),
        )
        skipped = kindless.get_column("sourcedId")
        people = people.filter(~pl.col("sourcedId").is_in(skipped.implode()))
        snapshot.people = frames.shape(
            people,
            PERSON_COLUMNS,
            file=pl.lit(USERS_FILE),
            code=pl.col("sourcedId"),
            status=pl.lit(ACTIVE),
            given_name=pl.col("givenName"),
            family_name=pl.col("familyName"),
        )
        snapshot.modes["people"] = Mode.BULK

    if roles is not None:
        kept = roles.filter(~pl.col("userSourcedId").is_in(skipped.implode()))
        snapshot.memberships = frames.shape(
            kept,
            MEMBERSHIP_COLUMNS,
            file=pl.lit(ROLES_FILE),
            column=pl.lit("orgSourcedId"),
            person_code=pl.col("userSourcedId"),
            org_code=pl.col("orgSourcedId"),
            is_primary=pl.col("isPrimary").str.to_lowercase().eq("true").fill_null(False),
            status=pl.lit(ACTIVE),
        )
        snapshot.modes["memberships"] = Mode.BULK

    if relationships is not None:
        kept = relationships.filter(
            ~pl.col("userSourcedId").is_in(skipped.implode())
            & ~pl.col("relationshipUserSourcedId").is_in(skipped.implode())
            & (pl.col("userSourcedId") != pl.col("relationshipUserSourcedId"))
        )
        snapshot.relations = frames.shape(
            kept,
            RELATION_COLUMNS,
            file=pl.lit(RELATIONSHIPS_FILE),
            column=pl.lit("relationshipUserSourcedId"),
            declarer_code=pl.col("userSourcedId"),
            other_code=pl.col("relationshipUserSourcedId"),
            relationship=pl.col("relationshipRole"),
        )
        snapshot.modes["relations"] = Mode.BULK
    return snapshot


def _check_roles(log: ProblemLog, roles: pl.DataFrame, named: list[pl.Series]) -> pl.DataFrame:
    file = ROLES_FILE
    frames.require(log, file, roles, "userSourcedId", "a role belongs to a user.")
    frames.require(log, file, roles, "orgSourcedId", "a role is held in an org.")
    frames.require(log, file, roles, "role", "every roles row needs a role.")
    frames.one_of(log, file, roles, "isPrimary", ("true", "false"), ignore_case=True)
    named.append(roles.get_column("userSourcedId").drop_nulls().alias("code"))
    return _vocabulary(log, file, roles, "role", SDS_ROLE_VOCAB, skip=True)


def _check_relationships(log: ProblemLog, rel: pl.DataFrame, named: list[pl.Series]) -> pl.DataFrame:
    file = RELATIONSHIPS_FILE
    frames.require(log, file, rel, "userSourcedId", "a relationship starts from a user.")
    frames.require(log, file, rel, "relationshipUserSourcedId", "a relationship names the related user.")
    frames.require(
        log, file, rel, "relationshipRole", "expected guardian, parent, relative or another SDS value."
    )
    self_named = rel.filter(pl.col("userSourcedId") == pl.col("relationshipUserSourcedId")).select(
        "line", "userSourcedId"
    )
    log.rows(
        "error",
        file,
        "relationshipUserSourcedId",
        self_named,
        lambda row: (
            f"user {quote(row['userSourcedId'])} is related to itself; a relationship joins two users."
        ),
    )
    pair = ["userSourcedId", "relationshipUserSourcedId"]
    repeats = (
        rel.filter(pl.col("userSourcedId").is_not_null() & pl.col("relationshipUserSourcedId").is_not_null())
        .with_columns(first=pl.col("line").min().over(pair))
        .filter(pl.col("line") != pl.col("first"))
        .select("line", "first", *pair)
    )
    if repeats.height:
        log.deviation_rows(
            file,
            "relationshipUserSourcedId",
            repeats,
            lambda row: (
                f"the relationship of {quote(row['userSourcedId'])} to "
                f"{quote(row['relationshipUserSourcedId'])} is already given on line {row['first']}."
            ),
            "the first one was used.",
        )
        rel = rel.join(repeats.select("line"), on="line", how="anti", maintain_order="left")
    named.append(rel.get_column("relationshipUserSourcedId").drop_nulls().alias("code"))
    return _vocabulary(log, file, rel, "relationshipRole", SDS_RELATIONSHIP_VOCAB, skip=False)
