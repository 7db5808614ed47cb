"""Writing and reading OneRoster 1.1 bulk sets: manifest.csv, orgs.csv and users.csv.

Only the files account logic needs are written; the manifest says `absent` for every other 1.1 file, so a
reader must not expect classes or enrollments. Fields are left empty (not "null") when there is no value,
status and dateLastModified are empty as bulk files require, and polars quotes a field only when it holds a
comma or a quote, e.g. a multi-valued agentSourcedIds.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

USERS_HEADER = [
    "sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role", "username", "userIds",
    "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds",
    "grades", "password",
]  # fmt: skip
ORGS_HEADER = ["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"]
# Every file of the 1.1 CSV binding, in the spec's order.
ONEROSTER_11_FILES = [
    "academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
    "demographics", "enrollments", "lineItems", "orgs", "resources", "results", "users",
]  # fmt: skip
BULK_FILES = {"orgs", "users"}
CONTACT_ROLES = ["parent", "guardian", "relative"]
STAFF_ROLES = ["teacher", "administrator", "aide", "proctor"]


def manifest_frame(system_name: str = "schoolgate-bench") -> pl.DataFrame:
    """manifest.csv: bulk orgs and users, every other file absent."""
    rows = [("manifest.version", "1.0"), ("oneroster.version", "1.1")]
    rows += [(f"file.{name}", "bulk" if name in BULK_FILES else "absent") for name in ONEROSTER_11_FILES]
    rows += [("source.systemName", system_name), ("source.systemCode", "bench/generate.py")]
    return pl.DataFrame(rows, schema={"propertyName": pl.Utf8, "value": pl.Utf8}, orient="row")


def write_set(out_dir: Path, orgs: pl.DataFrame, users: pl.DataFrame) -> None:
    """Write manifest.csv, orgs.csv and users.csv into `out_dir` (created if needed)."""
    if list(users.columns) != USERS_HEADER:
        raise ValueError(f"users frame has columns {users.columns}, expected the 1.1 header")
    if list(orgs.columns) != ORGS_HEADER:
        raise ValueError(f"orgs frame has columns {orgs.columns}, expected the 1.1 header")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_frame().write_csv(out_dir / "manifest.csv")
    orgs.write_csv(out_dir / "orgs.csv")
    users.write_csv(out_dir / "users.csv")


def read_set(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """orgs and users of a set as all-string frames (empty fields are null)."""
    orgs = pl.read_csv(folder / "orgs.csv", infer_schema=False)
    users = pl.read_csv(folder / "users.csv", infer_schema=False)
    if users.columns != USERS_HEADER:
        raise ValueError(f"{folder / 'users.csv'}: header is not the OneRoster 1.1 users header")
    return orgs, users


def links_of(users: pl.DataFrame) -> pl.DataFrame:
    """Every student-contact link as (student, contact), whichever side of the file lists it."""
    agents = pl.col("agentSourcedIds").str.split(",")
    listed = users.select("sourcedId", "role", agent=agents).explode("agent").drop_nulls("agent")
    students, contacts = pl.col("role") == "student", pl.col("role").is_in(CONTACT_ROLES)
    from_students = listed.filter(students).select(student="sourcedId", contact="agent")
    from_contacts = listed.filter(contacts).select(student="agent", contact="sourcedId")
    return pl.concat([from_students, from_contacts]).unique(maintain_order=True)


def problems_in_set(folder: Path) -> list[str]:
    """What makes `folder` not a referentially complete 1.1 bulk set as generate.py promises (empty if none).

    Used by the tests and by the benchmark runner before it times anything, so a generator bug cannot pass
    for a slow or failing sync.
    """
    problems: list[str] = []
    manifest = pl.read_csv(folder / "manifest.csv", infer_schema=False)
    if manifest.rows() != manifest_frame().rows():
        problems.append("manifest.csv differs from the expected 1.1 bulk manifest")
    header = (folder / "users.csv").open(encoding="utf-8").readline().rstrip("\r\n")
    if header != ",".join(USERS_HEADER):
        problems.append(f"users.csv header is {header!r}")
    orgs, users = read_set(folder)
    if orgs.columns != ORGS_HEADER:
        problems.append(f"orgs.csv header is {orgs.columns}")
    for name, frame in (("orgs.csv", orgs), ("users.csv", users)):
        if frame["sourcedId"].is_duplicated().any():
            problems.append(f"{name}: duplicate sourcedId")
        if frame["status"].is_not_null().any() or frame["dateLastModified"].is_not_null().any():
            problems.append(f"{name}: status/dateLastModified filled in a bulk file")
    districts = orgs.filter(pl.col("type") == "district")["sourcedId"]
    schools = orgs.filter(pl.col("type") == "school")
    if districts.len() != 1 or not schools["parentSourcedId"].is_in(districts.implode()).all():
        problems.append("orgs.csv: expected one district parenting every school")
    vocabulary = ["student", *CONTACT_ROLES, *STAFF_ROLES]
    if not users["role"].is_in(vocabulary).all():
        problems.append("users.csv: role outside the 1.1 vocabulary")
    if not users["enabledUser"].is_in(["true", "false"]).all():
        problems.append("users.csv: enabledUser not true/false")
    if users["email"].is_duplicated().any():
        problems.append("users.csv: duplicate e-mail address")
    org_refs = users.select(org=pl.col("orgSourcedIds").str.split(",")).explode("org")["org"]
    if org_refs.is_null().any() or not org_refs.is_in(orgs["sourcedId"].implode()).all():
        problems.append("users.csv: orgSourcedIds missing or naming an org not in orgs.csv")
    agent_refs = users.select(agent=pl.col("agentSourcedIds").str.split(",")).explode("agent").drop_nulls()
    if not agent_refs["agent"].is_in(users["sourcedId"].implode()).all():
        problems.append("users.csv: agentSourcedIds naming a user not in users.csv")
    links = links_of(users)
    role_of = users.select("sourcedId", "role")
    typed = links.join(role_of, left_on="student", right_on="sourcedId").join(
        role_of, left_on="contact", right_on="sourcedId", suffix="_contact"
    )
    if typed.height != links.height or (typed["role"] != "student").any():
        problems.append("users.csv: a link that is not between a student and a contact")
    if not typed["role_contact"].is_in(CONTACT_ROLES).all():
        problems.append("users.csv: a student's agent is not a parent, guardian or relative")
    contacts = users.filter(pl.col("role").is_in(CONTACT_ROLES))["sourcedId"]
    if not contacts.is_in(links["contact"].implode()).all():
        problems.append("users.csv: a contact linked to no student")
    students = users.filter(pl.col("role") == "student")["sourcedId"]
    if not students.is_in(links["student"].implode()).all():
        problems.append("users.csv: a student with no contact")
    return problems


def main(argv: list[str]) -> int:
    """`python bench/oneroster_set.py DIR...`: check sets; print problems and exit 1 if there are any."""
    status = 0
    for folder in argv:
        for problem in problems_in_set(Path(folder)):
            print(f"{folder}: {problem}")
            status = 1
    return status


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
