"""OneRoster 1.0 / 1.1 / 1.2 CSV file sets → `Snapshot`.

Reads manifest.csv, orgs.csv, users.csv and (1.2) roles.csv; other files are only cross-checked against the
manifest. References (agents, orgs, roles' users) are not checked here: a delta may name people the district
already holds, so the engine checks them against the database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from schoolgate.sync.readers import frames
from schoolgate.sync.readers.base import (
    MEMBERSHIP_COLUMNS,
    ORG_COLUMNS,
    PERSON_COLUMNS,
    RELATION_COLUMNS,
    Mode,
    Snapshot,
)
from schoolgate.sync.readers.manifest import MANIFEST, Manifest, read_manifest
from schoolgate.sync.readers.problems import ProblemLog, quote
from schoolgate.sync.readers.source import FileSet
from schoolgate.sync.readers.spec import (
    EXTENSION_PREFIX,
    HEADER_TYPOS,
    KIND_OF_ROLE,
    ORGS,
    ROLE_TYPES,
    ROLES_11_VOCAB,
    ROLES_12,
    ROLES_12_VOCAB,
    USERS_11,
    USERS_120,
    USERS_121,
    split_list,
)
from schoolgate.sync.readers.table import load_table

ORGS_FILE, USERS_FILE, ROLES_FILE = "orgs.csv", "users.csv", "roles.csv"
EMPTY_HINT = " (leave the file out and mark it 'absent' in manifest.csv)"
# What skipping a user means, for the warnings that skip one (tolerant reads).
LEFT_OUT = (
    "this user is not in the set, so a bulk set counts them as having left the SIS (a login of theirs is "
    "queued for revocation)."
)

# The columns each file contributes; the others are never parsed, to keep memory low.
ORG_NEEDED = ("sourcedId", "status", "dateLastModified", "name", "type", "parentSourcedId")
USER_NEEDED = split_list(
    "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,givenName,familyName,"
    "middleName,identifier,email,sms,phone,agentSourcedIds,grades,preferredGivenName"
)
ROLE_NEEDED = ("sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role", "orgSourcedId")

ACTIVE, TOBEDELETED = "active", "tobedeleted"


# -- headers -------------------------------------------------------------------------------------------------


def header_resolver(
    log: ProblemLog, file: str, version: str, layouts: list[list[str]], needed: Sequence[str]
) -> Callable[[list[str]], dict[str, int] | None]:
    """A `resolve_header` for `load_table`: exact columns and order, `metadata.*` extensions on the right."""

    def resolve(found: list[str]) -> dict[str, int] | None:
        names = list(found)
        known = {name for layout in layouts for name in layout}
        typos = []
        for i, name in enumerate(found):
            fixed = HEADER_TYPOS.get(name)
            if fixed and fixed in known and fixed not in found:
                typos.append((name, fixed))
                names[i] = fixed
        # Pick the layout that matches longest (1.2.0 vs 1.2.1 users differ from column 18 on).
        layout = max(layouts, key=lambda lay: _common_prefix(names, lay))
        problem = _header_problem(found, names, layout, version, file)
        if problem:
            column, message = problem
            log.error(file, 1, column, message)
            return None
        for name, fixed in typos:
            log.deviation(
                file,
                1,
                name,
                f"the header says {quote(name)}, a misspelling of '{fixed}'.",
                f"read as '{fixed}'.",
            )
        return {name: i for i, name in enumerate(names[: len(layout)]) if name in needed}

    return resolve


def _common_prefix(names: list[str], layout: list[str]) -> int:
    count = 0
    for a, b in zip(names, layout, strict=False):
        if a != b:
            break
        count += 1
    return count


def _header_problem(
    found: list[str], names: list[str], layout: list[str], version: str, file: str
) -> tuple[str | None, str] | None:
    spec = f"OneRoster {version} {file}"
    expected = (
        f"Expected header: {','.join(layout)} (extension columns starting with 'metadata.' may follow)."
    )
    unknown = [n for n in names if n not in layout and not n.startswith(EXTENSION_PREFIX)]
    missing = [n for n in layout if n not in names]
    summary = ""
    if unknown:
        summary += f" Not OneRoster columns: {', '.join(quote(n, 40) for n in unknown[:8])}."
    if missing:
        summary += f" Missing: {', '.join(missing[:8])}."
    for i, wanted in enumerate(layout):
        if i >= len(names):
            return (
                None,
                f"the header has {len(names)} columns; {spec} needs {len(layout)}.{summary} {expected}",
            )
        if names[i] != wanted:
            return (
                found[i] or None,
                f"column {i + 1} is {quote(found[i])} but {spec} expects '{wanted}' there."
                f"{summary} {expected}",
            )
    for i in range(len(layout), len(names)):
        if not names[i].startswith(EXTENSION_PREFIX):
            return (
                found[i] or None,
                f"column {i + 1} is {quote(found[i])}, which is not a {spec} column; extra columns must come "
                f"after the standard ones and start with 'metadata.'. {expected}",
            )
    return None


# -- shared row checks ---------------------------------------------------------------------------------------


def _with_status(log: ProblemLog, file: str, frame: pl.DataFrame, mode: Mode) -> pl.DataFrame:
    """Check status/dateLastModified for the file's mode; adds the normalised `status_out`."""
    if mode == Mode.BULK:
        log.deviation_rows(
            file,
            "status",
            frame.filter(pl.col("status").is_not_null()).select("line", "status"),
            lambda row: (
                f"status is {quote(row['status'])}; in a bulk file status must be empty (only delta "
                f"files carry it)."
            ),
            lambda row: (
                "the row is read as 'tobedeleted' (it leaves the SIS)."
                if row["status"] == TOBEDELETED
                else "the row is read as 'active'."
            ),
        )
        log.deviation_rows(
            file,
            "dateLastModified",
            frame.filter(pl.col("dateLastModified").is_not_null()).select("line", "dateLastModified"),
            lambda row: (
                f"dateLastModified is {quote(row['dateLastModified'])}; in a bulk file dateLastModified "
                f"must be empty (only delta files carry it)."
            ),
            "the value was ignored.",
        )
        status = pl.when(pl.col("status") == TOBEDELETED).then(pl.lit(TOBEDELETED)).otherwise(pl.lit(ACTIVE))
        return frame.with_columns(status_out=status)
    frames.require(log, file, frame, "status", "a delta file needs 'active' or 'tobedeleted' on every row.")
    frames.one_of(log, file, frame, "status", (ACTIVE, TOBEDELETED))
    frames.require(log, file, frame, "dateLastModified", "a delta file needs the time each row last changed.")
    frames.datetime_check(log, file, frame, "dateLastModified")
    return frame.with_columns(status_out=pl.col("status"))


def _vocabulary(
    log: ProblemLog, file: str, frame: pl.DataFrame, vocab: frozenset[str], version: str
) -> pl.DataFrame:
    """Roles outside the version's vocabulary: an error, or (tolerant) mapped to a 1.2 role or row skipped."""
    role = pl.col("role")
    outside = role.is_not_null() & ~role.is_in(sorted(vocab))
    if frame.filter(outside).height == 0:
        return frame
    if not log.tolerant:
        log.rows(
            "error",
            file,
            "role",
            frame.filter(outside).select("line", "role"),
            lambda row: (
                f"role {quote(row['role'])} is not a OneRoster {version} role; expected one of "
                f"{', '.join(sorted(vocab))}."
            ),
        )
        return frame
    # Tolerated: a role of the 1.2 vocabulary (matched regardless of letter case) is used as such.
    lookup = {r.lower(): r for r in (ROLES_12_VOCAB | vocab)}
    fixed = role.str.to_lowercase().replace_strict(lookup, default=None, return_dtype=pl.Utf8)
    frame = frame.with_columns(role_fixed=pl.when(outside).then(fixed).otherwise(role), outside=outside)
    mapped = frame.filter(pl.col("outside") & pl.col("role_fixed").is_not_null()).select(
        "line", "role", "role_fixed"
    )
    log.rows(
        "warning",
        file,
        "role",
        mapped,
        lambda row: (
            f"role {quote(row['role'])} is not a OneRoster {version} role. Tolerated: read as the "
            f"OneRoster 1.2 role '{row['role_fixed']}' ({KIND_OF_ROLE[row['role_fixed']].value})."
        ),
    )
    dropped = frame.filter(pl.col("outside") & pl.col("role_fixed").is_null()).select("line", "role")
    # A users.csv row is the whole user: skipping it leaves them out of the set, which a bulk set reads as
    # having left the SIS — said here, not left for the admin to find in the counts.
    gone = f"; {LEFT_OUT}" if file == USERS_FILE else "."
    log.rows(
        "warning",
        file,
        "role",
        dropped,
        lambda row: (
            f"role {quote(row['role'])} is not a OneRoster role. Tolerated: the row was skipped{gone}"
        ),
    )
    return (
        frame.filter(~(pl.col("outside") & pl.col("role_fixed").is_null()))
        .with_columns(role=pl.col("role_fixed"))
        .drop("role_fixed", "outside")
    )


# -- files ---------------------------------------------------------------------------------------------------


def _orgs(fs: FileSet, log: ProblemLog, version: str, mode: Mode) -> pl.DataFrame | None:
    resolve = header_resolver(log, ORGS_FILE, version, [ORGS], ORG_NEEDED)
    frame = load_table(fs, ORGS_FILE, log, resolve, EMPTY_HINT)
    if frame is None:
        return None
    frames.require(log, ORGS_FILE, frame, "sourcedId", "every org needs its identifier.")
    frames.unique(log, ORGS_FILE, frame, "sourcedId")
    frame = _with_status(log, ORGS_FILE, frame, mode)
    return frames.shape(
        frame,
        ORG_COLUMNS,
        file=pl.lit(ORGS_FILE),
        code=pl.col("sourcedId"),
        status=pl.col("status_out"),
        org_type=pl.col("type"),
        parent_code=pl.col("parentSourcedId"),
    )


@dataclass
class Users:
    frame: pl.DataFrame  # users.csv rows, OneRoster column names plus status_out, enabled, grades_out
    relations: pl.DataFrame  # from agentSourcedIds, in the contract's layout
    memberships: pl.DataFrame | None  # from orgSourcedIds (1.0/1.1), in the contract's layout


def _users(fs: FileSet, log: ProblemLog, version: str, mode: Mode) -> Users | None:
    """users.csv checked and normalised; relations (and 1.1 memberships) already split out."""
    layouts = [USERS_121, USERS_120] if version == "1.2" else [USERS_11]
    resolve = header_resolver(log, USERS_FILE, version, layouts, USER_NEEDED)
    frame = load_table(fs, USERS_FILE, log, resolve, EMPTY_HINT)
    if frame is None:
        return None
    file = USERS_FILE
    frames.require(log, file, frame, "sourcedId", "every user needs its identifier.")
    frames.unique(log, file, frame, "sourcedId")
    frame = _with_status(log, file, frame, mode)
    if version != "1.0":
        frames.require(log, file, frame, "enabledUser", "OneRoster 1.1 and 1.2 require 'true' or 'false'.")
    frames.one_of(log, file, frame, "enabledUser", ("true", "false"), ignore_case=True)
    if version != "1.2":
        frames.require(log, file, frame, "role", "every user needs a role.")
        frame = _vocabulary(log, file, frame, ROLES_11_VOCAB, "1.1" if version == "1.0" else version)
    agents = frames.explode_ids(frame, "agentSourcedIds", ["line", "sourcedId"])
    self_named = agents.filter(pl.col("value") == pl.col("sourcedId"))
    log.rows(
        "error",
        file,
        "agentSourcedIds",
        self_named,
        lambda row: (
            f"agentSourcedIds names the user itself ({quote(row['sourcedId'])}); an agent must be "
            f"another user."
        ),
    )
    relations = frames.shape(
        agents.filter(pl.col("value") != pl.col("sourcedId")),
        RELATION_COLUMNS,
        file=pl.lit(USERS_FILE),
        column=pl.lit("agentSourcedIds"),
        declarer_code=pl.col("sourcedId"),
        other_code=pl.col("value"),
    )
    memberships = None
    if version != "1.2":
        memberships = frames.shape(
            frames.explode_ids(frame, "orgSourcedIds", ["line", "sourcedId", "role", "status_out"]),
            MEMBERSHIP_COLUMNS,
            file=pl.lit(USERS_FILE),
            column=pl.lit("orgSourcedIds"),
            person_code=pl.col("sourcedId"),
            org_code=pl.col("value"),
            is_primary=pl.col("first"),
            status=pl.col("status_out"),
        )
    enabled = pl.col("enabledUser").str.to_lowercase()
    frame = frame.with_columns(
        enabled=pl.when(enabled == "true").then(True).when(enabled == "false").then(False),
        grades_out=frames.tidy_list(frame, "grades"),
    )
    return Users(frame, relations, memberships)


def _roles(fs: FileSet, log: ProblemLog, mode: Mode) -> tuple[pl.DataFrame, pl.Series] | None:
    """roles.csv checked, and every userSourcedId it names (also on rows the vocabulary check skipped)."""
    resolve = header_resolver(log, ROLES_FILE, "1.2", [ROLES_12], ROLE_NEEDED)
    frame = load_table(fs, ROLES_FILE, log, resolve, EMPTY_HINT)
    if frame is None:
        return None
    file = ROLES_FILE
    frames.require(log, file, frame, "sourcedId", "every role row needs its own identifier.")
    frames.unique(log, file, frame, "sourcedId")
    frame = _with_status(log, file, frame, mode)
    frames.require(log, file, frame, "userSourcedId", "a role belongs to a user.")
    frames.require(log, file, frame, "orgSourcedId", "a role is held in an org.")
    frames.require(log, file, frame, "roleType", "expected 'primary' or 'secondary'.")
    frames.one_of(log, file, frame, "roleType", ROLE_TYPES)
    frames.require(log, file, frame, "role", "every role row needs a role.")
    named = frame.get_column("userSourcedId").drop_nulls()
    return _vocabulary(log, file, frame, ROLES_12_VOCAB, "1.2"), named


# -- assembling the snapshot ---------------------------------------------------------------------------------


def _people(users: pl.DataFrame, kinds: pl.DataFrame | None) -> pl.DataFrame:
    if kinds is None:
        kind = frames.kind_of(pl.col("role"), KIND_OF_ROLE)
        frame, roles = users, pl.col("role")
    else:
        frame = users.join(
            kinds, left_on="sourcedId", right_on="person_code", how="left", maintain_order="left"
        )
        kind, roles = pl.col("kind"), pl.col("roles")
    return frames.shape(
        frame,
        PERSON_COLUMNS,
        file=pl.lit(USERS_FILE),
        code=pl.col("sourcedId"),
        status=pl.col("status_out"),
        kind=kind,
        roles=roles,
        given_name=pl.col("givenName"),
        family_name=pl.col("familyName"),
        middle_name=pl.col("middleName"),
        preferred_given_name=pl.col("preferredGivenName")
        if "preferredGivenName" in frame.columns
        else pl.lit(None),
        grades=pl.col("grades_out"),
    )


def _memberships_12(roles: pl.DataFrame) -> pl.DataFrame:
    return frames.shape(
        roles,
        MEMBERSHIP_COLUMNS,
        file=pl.lit(ROLES_FILE),
        column=pl.lit("orgSourcedId"),
        person_code=pl.col("userSourcedId"),
        org_code=pl.col("orgSourcedId"),
        is_primary=pl.col("roleType") == "primary",
        status=pl.col("status_out"),
    )


def _kinds_12(
    log: ProblemLog,
    users: pl.DataFrame,
    roles: pl.DataFrame | None,
    all_role_users: pl.Series | None,
    mode: Mode,
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Kind and roles of 1.2 users from their roles rows; bulk users without any role row are errors.

    `all_role_users` are the users named by any roles row, including rows skipped as unusable, so that a user
    whose only role was skipped is told apart from one that has none.
    """
    if roles is None:
        return users, None
    active = (
        roles.filter(pl.col("status_out") != TOBEDELETED)
        .select(person_code="userSourcedId", role="role")
        .drop_nulls()
        .with_columns(kind=frames.kind_of(pl.col("role"), KIND_OF_ROLE))
    )
    kinds = frames.kinds_by_person(active)
    if mode == Mode.BULK:
        named = all_role_users if all_role_users is not None else roles.get_column("userSourcedId")
        roleless = users.filter(
            pl.col("sourcedId").is_not_null() & ~pl.col("sourcedId").is_in(named.implode())
        )
        log.rows(
            "error",
            USERS_FILE,
            None,
            roleless.select("line", "sourcedId"),
            lambda row: (
                f"user {quote(row['sourcedId'])} has no role in roles.csv; in a bulk set every user needs "
                f"at least one role row."
            ),
        )
        if log.tolerant:
            unusable = users.filter(
                pl.col("sourcedId").is_in(named.implode())
                & ~pl.col("sourcedId").is_in(kinds.get_column("person_code").implode())
                & (pl.col("status_out") != TOBEDELETED)
            )
            log.rows(
                "warning",
                USERS_FILE,
                None,
                unusable.select("line", "sourcedId"),
                lambda row: (
                    f"user {quote(row['sourcedId'])} has no usable role left in roles.csv. Tolerated: the "
                    f"user was skipped; {LEFT_OUT}"
                ),
            )
            users = users.join(
                unusable.select("sourcedId"), on="sourcedId", how="anti", maintain_order="left"
            )
    return users, kinds


def read_oneroster(fs: FileSet, log: ProblemLog) -> Snapshot:
    """Read a OneRoster set; without manifest.csv it is OneRoster 1.0 (1.1 columns, every file bulk)."""
    if fs.has(MANIFEST):
        manifest = read_manifest(fs, log)
        if manifest is None:
            return Snapshot(format="oneroster-1.1")
    else:
        manifest = Manifest(
            "1.0", {stem: Mode.BULK if fs.has(f"{stem}.csv") else Mode.ABSENT for stem in ("orgs", "users")}
        )
        if not fs.has(USERS_FILE) and not fs.has(ORGS_FILE):
            log.error(fs.label, None, None, "has neither users.csv nor orgs.csv (nor a manifest.csv).")
    version = manifest.version
    snapshot = Snapshot(format=f"oneroster-{version}", source_system=manifest.source_system)
    modes = manifest.modes
    users_mode, orgs_mode = modes.get("users", Mode.ABSENT), modes.get("orgs", Mode.ABSENT)
    roles_mode = modes.get("roles", Mode.ABSENT)

    if orgs_mode != Mode.ABSENT:
        orgs = _orgs(fs, log, version, orgs_mode)
        if orgs is not None:
            snapshot.orgs = orgs
        snapshot.modes["orgs"] = orgs_mode

    roles = None
    all_role_users = None
    if version == "1.2" and roles_mode != Mode.ABSENT:
        read = _roles(fs, log, roles_mode)
        if read is not None:
            roles, all_role_users = read
            snapshot.memberships = _memberships_12(roles)
            snapshot.modes["memberships"] = roles_mode
    if users_mode != Mode.ABSENT:
        if version == "1.2" and users_mode == Mode.BULK and roles_mode == Mode.ABSENT:
            log.error(
                MANIFEST if fs.has(MANIFEST) else USERS_FILE,
                None,
                None,
                "users.csv is a bulk file but roles.csv is absent; OneRoster 1.2 gives users their roles in "
                "roles.csv, so a bulk users.csv needs a roles.csv.",
            )
        users = _users(fs, log, version, users_mode)
        if users is not None:
            people, kinds = users.frame, None
            if version == "1.2":
                people, kinds = _kinds_12(log, people, roles, all_role_users, users_mode)
                if kinds is None:
                    kinds = pl.DataFrame(schema={"person_code": pl.Utf8, "roles": pl.Utf8, "kind": pl.Utf8})
            snapshot.people = _people(people, kinds)
            skipped = users.frame.height != people.height
            snapshot.relations = (
                users.relations.filter(
                    pl.col("declarer_code").is_in(people.get_column("sourcedId").implode())
                )
                if skipped
                else users.relations
            )
            snapshot.modes["people"] = users_mode
            snapshot.modes["relations"] = users_mode
            if users.memberships is not None:
                snapshot.memberships = users.memberships
                snapshot.modes["memberships"] = users_mode
                snapshot.memberships_replace_owners = True
    return snapshot
