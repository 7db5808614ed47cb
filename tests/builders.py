"""Build small SIS file sets for tests: OneRoster (1.0/1.1/1.2, bulk or delta, folder or zip) and SDS v2.1.

Rows are dicts holding only the fields a test cares about; the builder fills the rest with sensible defaults
and writes the spec's exact header, quoting lists through the csv module:

    write_oneroster(tmp_path, orgs=[{"sourcedId": "sch1"}],
                    users=[{"sourcedId": "s1", "agentSourcedIds": "p1,p2"}])

`version` is "1.1" (default), "1.2" (1.2.1 users layout), "1.2.0" (1.2.0 layout with resourceSourcedIds) or
"1.0" (1.1 layout and no manifest.csv at all, which is how a OneRoster 1.0 set looks). Keys starting with
"metadata." become extension columns after the standard ones. Any other unknown key is a test bug and raises.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path


def _cols(text: str) -> list[str]:
    # Headers restated here on purpose, independent of the reader's copy, so a typo in one is caught.
    return text.split(",")


USERS_11 = _cols(
    "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,"
    "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password"
)
USERS_121 = _cols(
    "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,"
    "email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,preferredGivenName,"
    "preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns"
)
USERS_120 = [*USERS_121[:17], "resourceSourcedIds", *USERS_121[17:]]
ORGS = _cols("sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId")
ROLES = _cols(
    "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,"
    "userProfileSourcedId"
)

SDS_ORGS = ["sourcedId", "name", "type", "parentSourcedId"]
SDS_USERS = [
    "sourcedId",
    "username",
    "givenName",
    "familyName",
    "password",
    "activeDirectoryMatchId",
    "email",
    "phone",
    "sms",
]
SDS_ROLES = [
    "userSourcedId",
    "orgSourcedId",
    "role",
    "sessionSourcedId",
    "grade",
    "isPrimary",
    "roleStartDate",
    "roleEndDate",
]
SDS_RELATIONSHIPS = ["userSourcedId", "relationshipUserSourcedId", "relationshipRole"]

DELTA_STAMP = "2024-03-01T08:30:00.000Z"
# Files a OneRoster manifest lists; the builder marks every one it does not write as absent.
MANIFEST_FILES = _cols(
    "academicSessions,categories,classes,classResources,courses,courseResources,demographics,enrollments,"
    "lineItems,orgs,resources,results,users"
)
MANIFEST_FILES_12 = [
    *MANIFEST_FILES,
    *_cols(
        "roles,userProfiles,userResources,scoreScales,lineItemLearningObjectiveIds,lineItemScoreScales,"
        "resultLearningObjectiveIds,resultScoreScales"
    ),
]


def _csv_text(header: list[str], rows: list[dict], defaults: dict[str, str], crlf: bool) -> str:
    extras = [k for row in rows for k in row if k not in header]
    unknown = sorted({k for k in extras if not k.startswith("metadata.")})
    if unknown:
        raise ValueError(f"unknown column(s) {unknown}; expected some of {header}")
    extension = list(dict.fromkeys(k for k in extras if k.startswith("metadata.")))
    columns = header + extension
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(columns)
    for row in rows:
        merged = {**defaults, **row}
        writer.writerow([merged.get(c, "") for c in columns])
    return out.getvalue()


def _write(directory: Path, name: str, text: str, bom: bool = False) -> None:
    data = text.encode("utf-8")
    (directory / name).write_bytes((b"\xef\xbb\xbf" + data) if bom else data)


def _zip(directory: Path, names: list[str], zip_to: Path) -> Path:
    with zipfile.ZipFile(zip_to, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            archive.write(directory / name, arcname=name)
    return zip_to


def write_oneroster(
    directory: Path,
    *,
    version: str = "1.1",
    mode: str = "bulk",
    orgs: list[dict],
    users: list[dict],
    roles: list[dict] | None = None,
    manifest_extra: dict[str, str] | None = None,
    zip_to: Path | None = None,
    bom: bool = False,
    crlf: bool = False,
) -> Path:
    """Write a OneRoster set into `directory`; returns the folder, or `zip_to` when given (a zip of the set).

    Defaults: users get enabledUser "true"; 1.1 users role "student" and orgSourcedIds the first org; in delta
    mode every row gets status "active" and a dateLastModified. For 1.2, when `roles` is None, one roles.csv
    row per (user, org) is derived from the users' "role" and "orgSourcedIds" keys (first org primary), which
    are then not written to users.csv. An empty `orgs`, `users` or `roles` list leaves that file out and
    marks it absent in the manifest.
    """
    directory.mkdir(parents=True, exist_ok=True)
    is_12 = version.startswith("1.2")
    delta = {"status": "active", "dateLastModified": DELTA_STAMP} if mode == "delta" else {}
    first_org = orgs[0]["sourcedId"] if orgs else "org1"

    org_rows = [{"name": f"Org {o.get('sourcedId', '')}", "type": "school", **delta, **o} for o in orgs]
    files = {"orgs.csv": _csv_text(ORGS, org_rows, {}, crlf)}

    role_rows: list[dict] = []
    if is_12:
        header = USERS_120 if version == "1.2.0" else USERS_121
        user_rows, derived = [], []
        for u in users:
            u = dict(u)
            role = u.pop("role", "student")
            org_ids = [o.strip() for o in u.pop("orgSourcedIds", first_org).split(",") if o.strip()]
            for i, org in enumerate(org_ids):
                derived.append(
                    {
                        "sourcedId": f"role-{u['sourcedId']}-{org}-{role}",
                        "userSourcedId": u["sourcedId"],
                        "roleType": "primary" if i == 0 else "secondary",
                        "role": role,
                        "orgSourcedId": org,
                    }
                )
            user_rows.append({"enabledUser": "true", **delta, **u})
        role_rows = derived if roles is None else roles
        files["users.csv"] = _csv_text(header, user_rows, {}, crlf)
        files["roles.csv"] = _csv_text(
            ROLES,
            [
                {"sourcedId": f"role{i + 1}", "roleType": "primary", **delta, **r}
                for i, r in enumerate(role_rows)
            ],
            {},
            crlf,
        )
    else:
        user_rows = [
            {"enabledUser": "true", "role": "student", "orgSourcedIds": first_org, **delta, **u}
            for u in users
        ]
        files["users.csv"] = _csv_text(USERS_11, user_rows, {}, crlf)

    # An empty list means "this set has no such file" (marked absent), not a header-only file.
    given = {"orgs.csv": orgs, "users.csv": users, "roles.csv": role_rows if is_12 else None}
    files = {name: text for name, text in files.items() if given[name]}
    for name, text in files.items():
        _write(directory, name, text, bom)
    names = list(files)

    if version != "1.0":
        listed = MANIFEST_FILES_12 if is_12 else MANIFEST_FILES
        written = {name.removesuffix(".csv") for name in files}
        manifest = {
            "manifest.version": "1.0",
            "oneroster.version": "1.2" if is_12 else version,
            **{f"file.{stem}": (mode if stem in written else "absent") for stem in listed},
            "source.systemName": "Schoolgate test builder",
            "source.systemCode": "builder",
            **(manifest_extra or {}),
        }
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n" if crlf else "\n")
        writer.writerow(["propertyName", "value"])
        writer.writerows(manifest.items())
        _write(directory, "manifest.csv", out.getvalue(), bom)
        names.append("manifest.csv")
    return _zip(directory, names, zip_to) if zip_to is not None else directory


def write_sds(
    directory: Path, *, orgs: list[dict], users: list[dict], roles: list[dict], relationships: list[dict]
) -> Path:
    """Write a Microsoft SDS v2.1 set (orgs, users, roles, relationships) into `directory`; returns it.

    Defaults: users get a username, givenName and familyName; roles the first org, role "student" and
    isPrimary "TRUE"; relationships the role "guardian". No relationships → no relationships.csv.
    """
    directory.mkdir(parents=True, exist_ok=True)
    first_org = orgs[0]["sourcedId"] if orgs else "org1"
    org_rows = [{"name": f"Org {o.get('sourcedId', '')}", "type": "school", **o} for o in orgs]
    user_rows = [
        {
            "username": f"{u.get('sourcedId', 'user')}@example.org",
            "givenName": "Given",
            "familyName": "Family",
            **u,
        }
        for u in users
    ]
    role_rows = [{"orgSourcedId": first_org, "role": "student", "isPrimary": "TRUE", **r} for r in roles]
    relationship_rows = [{"relationshipRole": "guardian", **r} for r in relationships]
    _write(directory, "orgs.csv", _csv_text(SDS_ORGS, org_rows, {}, False))
    _write(directory, "users.csv", _csv_text(SDS_USERS, user_rows, {}, False))
    _write(directory, "roles.csv", _csv_text(SDS_ROLES, role_rows, {}, False))
    if relationship_rows:  # SDS files may not be header-only; no relationships means no file
        _write(directory, "relationships.csv", _csv_text(SDS_RELATIONSHIPS, relationship_rows, {}, False))
    return directory
