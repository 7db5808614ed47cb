"""Format facts the readers check against: OneRoster 1.1/1.2 CSV and Microsoft SDS v2.1 CSV.

Sources: the 1EdTech OneRoster v1.1 and v1.2.1 CSV bindings, and Microsoft's "SDS V2.1 CSV file format"
(learn.microsoft.com/schooldatasync) for the SDS columns and role/relationship vocabularies.
"""

from __future__ import annotations

from schoolgate.sync.readers.base import PersonKind


def split_list(text: str) -> list[str]:
    """Column names or values written the way the specs print them, as one comma-separated string."""
    return text.split(",")


# -- OneRoster --------------------------------------------------------------------------------------------

ONEROSTER_VERSIONS = ("1.0", "1.1", "1.2")
MANIFEST_MODES = ("absent", "bulk", "delta")

# Headers as the specs print them: one comma-separated string per file, split into column names.
USERS_11 = split_list(
    "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,"
    "familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password"
)
USERS_121 = split_list(
    "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,"
    "identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,preferredGivenName,"
    "preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns"
)
# 1.2.0 carried resourceSourcedIds right after userMasterIdentifier; 1.2.1 dropped it. Both are in use.
USERS_120 = [
    *USERS_121[: USERS_121.index("userMasterIdentifier") + 1],
    "resourceSourcedIds",
    *USERS_121[USERS_121.index("userMasterIdentifier") + 1 :],
]
ORGS = split_list("sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId")
ROLES_12 = split_list(
    "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,"
    "userProfileSourcedId"
)

# Extension columns may follow the spec's columns, and only those.
EXTENSION_PREFIX = "metadata."

ROLES_11_VOCAB = frozenset(split_list("administrator,aide,guardian,parent,proctor,relative,student,teacher"))
ROLES_12_VOCAB = frozenset(
    split_list(
        "aide,counselor,districtAdministrator,guardian,parent,principal,proctor,relative,siteAdministrator,"
        "student,systemAdministrator,teacher"
    )
)
ROLE_TYPES = ("primary", "secondary")

STAFF_ROLES = split_list(
    "teacher,administrator,aide,proctor,counselor,principal,districtAdministrator,siteAdministrator,"
    "systemAdministrator"
)
KIND_OF_ROLE: dict[str, PersonKind] = {
    "student": PersonKind.STUDENT,
    "parent": PersonKind.CONTACT,
    "guardian": PersonKind.CONTACT,
    "relative": PersonKind.CONTACT,
    **dict.fromkeys(STAFF_ROLES, PersonKind.STAFF),
}

# A person with several roles gets the kind of the first in this order.
KIND_PRECEDENCE = (PersonKind.STUDENT, PersonKind.STAFF, PersonKind.CONTACT)

# Misspelt headers seen in real exports, and the column they stand for.
HEADER_TYPOS = {
    "prefferedGivenName": "preferredGivenName",
    "prefferedMiddleName": "preferredMiddleName",
    "prefferedFamilyName": "preferredFamilyName",
    "dataLastModified": "dateLastModified",
    "dateModified": "dateLastModified",
}

# -- Microsoft School Data Sync v2.1 ---------------------------------------------------------------------

# Column order is free in SDS (headers are matched by name); these are the columns each file must have and
# the ones it may have.
SDS_ORGS_REQUIRED = ("sourcedId", "name", "type")
SDS_ORGS_OPTIONAL = ("parentSourcedId",)
SDS_USERS_REQUIRED = ("sourcedId", "username")
SDS_USERS_OPTIONAL = (
    "givenName",
    "familyName",
    "password",
    "activeDirectoryMatchId",
    "email",
    "phone",
    "sms",
)
SDS_ROLES_REQUIRED = ("userSourcedId", "orgSourcedId", "role")
SDS_ROLES_OPTIONAL = ("sessionSourcedId", "grade", "isPrimary", "roleStartDate", "roleEndDate")
SDS_RELATIONSHIPS_REQUIRED = ("userSourcedId", "relationshipUserSourcedId", "relationshipRole")

SDS_ROLE_VOCAB = frozenset(
    split_list(
        "principal,chair,professor,researcher,adjunct,affiliate,occupationalTherapist,physicalTherapist,"
        "speechTherapist,visionTherapist,paraprofessional,specialServices,advisor,proctor,nurse,officeStaff,"
        "lecturer,itAdmin,administrator,teacher,faculty,staff,teacherAssistant,assistant,instructor,"
        "substitute,coach,alumni,student,other"
    )
)
# Former students: not a student, not staff, and not someone a community portal serves.
SDS_IGNORED_ROLES = frozenset({"alumni"})
SDS_RELATIONSHIP_VOCAB = frozenset({"parent", "guardian", "relative", "other", "doctor", "aide"})


def sds_kind(role: str) -> PersonKind | None:
    """Kind for an SDS roles.csv role: every role but student and alumni is a member of staff."""
    if role == "student":
        return PersonKind.STUDENT
    if role in SDS_IGNORED_ROLES:
        return None
    return PersonKind.STAFF
