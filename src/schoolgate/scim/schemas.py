"""The SCIM resources Schoolgate serves, as scim2-models classes, and the discovery documents built from them.

The classes declare exactly the attributes we support, with the mutability that tells a SCIM client what it
may write: a person's identity (names, e-mail, kind, students) comes from the SIS and is read-only; a client
may write only `active` (through the lifecycle functions) and `externalId` (its own identifier for the
resource, RFC 7643 §3.1). `userName` is immutable: it names the SIS person when a client asks for an account
(POST), and afterwards the server alone changes it (the username chosen at activation).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from scim2_models import (
    URN,
    AnyExtension,
    AuthenticationScheme,
    Bulk,
    CaseExact,
    ChangePassword,
    ComplexAttribute,
    ETag,
    Extension,
    Filter,
    Mutability,
    Patch,
    Required,
    Resource,
    ResourceType,
    Returned,
    Schema,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
EXTENSION_SCHEMA = "urn:schoolgate:params:scim:schemas:extension:schoolgate:2.0:User"
GROUP_EXTENSION_SCHEMA = "urn:schoolgate:params:scim:schemas:extension:schoolgate:2.0:Group"

# Bounds of a page: a client asking for more gets this many (RFC 7644 §3.4.2.4 lets the server cap `count`).
DEFAULT_COUNT = 100
MAX_COUNT = 1000

RO = Mutability.read_only


class Name(ComplexAttribute):
    """The person's name, as the SIS has it."""

    formatted: Annotated[str | None, RO] = None
    family_name: Annotated[str | None, RO] = None
    given_name: Annotated[str | None, RO] = None
    middle_name: Annotated[str | None, RO] = None


class Email(ComplexAttribute):
    """An e-mail address from the SIS (not validated here: SIS data is what it is)."""

    value: Annotated[str | None, RO] = None
    type: Annotated[str | None, RO] = None
    primary: Annotated[bool | None, RO] = None


class PhoneNumber(ComplexAttribute):
    """A phone number from the SIS."""

    value: Annotated[str | None, RO] = None
    type: Annotated[str | None, RO] = None


class GroupRef(ComplexAttribute):
    """A group the user belongs to (a school, a kind)."""

    value: Annotated[str | None, RO, CaseExact.true] = None
    display: Annotated[str | None, RO] = None
    type: Annotated[str | None, RO] = None


class VisibleStudent(ComplexAttribute):
    """A student a guardian may see in the portal right now, with the sections they may see."""

    value: Annotated[str | None, RO, CaseExact.true] = None
    display: Annotated[str | None, RO] = None
    sections: Annotated[list[str] | None, RO] = None


class SchoolgateUser(Extension):
    """Schoolgate's view of the person behind the account."""

    __schema__ = URN(EXTENSION_SCHEMA)

    kind: Annotated[str | None, RO] = Field(None, examples=["student", "contact", "staff"])
    """student, contact (guardian) or staff."""

    sis_code: Annotated[str | None, RO, CaseExact.true] = None
    """The person's code in the SIS (sourcedId), unique in the district."""

    state: Annotated[str | None, RO] = None
    """The account's lifecycle state (ready_to_provision, invited, active, ready_to_revoke, revoked)."""

    reason: Annotated[str | None, RO] = None
    """Why the account is waiting for revocation, or was revoked."""

    students: Annotated[list[VisibleStudent] | None, RO] = None
    """For a guardian: the students they may see, with the permitted sections."""


class User(Resource[AnyExtension]):
    """A Schoolgate account and the SIS person it belongs to."""

    __schema__ = URN(USER_SCHEMA)

    user_name: Annotated[str | None, Mutability.immutable, Required.true, Uniqueness.server] = None
    """The username, or the person's SIS code while the account has none."""

    name: Annotated[Name | None, RO] = None
    display_name: Annotated[str | None, RO] = None
    emails: Annotated[list[Email] | None, RO] = None
    phone_numbers: Annotated[list[PhoneNumber] | None, RO] = None
    active: Annotated[bool | None, Required.true] = None
    """True while the account is invited or active; false is ready_to_provision, ready_to_revoke or revoked.
    Required: an account is always usable or not, so the attribute cannot be removed."""

    groups: Annotated[list[GroupRef] | None, RO] = None


class Member(ComplexAttribute):
    """A member of a group: a user (account)."""

    value: Annotated[str | None, RO, CaseExact.true] = None
    display: Annotated[str | None, RO] = None
    type: Annotated[str | None, RO] = None


class SchoolgateGroup(Extension):
    """What a group stands for in Schoolgate."""

    __schema__ = URN(GROUP_EXTENSION_SCHEMA)

    group_type: Annotated[str | None, RO] = None
    """school or kind."""

    code: Annotated[str | None, RO, CaseExact.true] = None
    """The school's SIS code, or the kind (student, contact, staff)."""


class Group(Resource[AnyExtension]):
    """A school of the district (members: its people's accounts) or a kind of person."""

    __schema__ = URN(GROUP_SCHEMA)

    display_name: Annotated[str | None, RO, Required.true] = None
    members: Annotated[list[Member] | None, RO, Returned.default] = None


# The resources as served: the core schema with our extension, which is read-only as a whole (SIS data).
UserResource = User[Annotated[SchoolgateUser, RO]]
GroupResource = Group[Annotated[SchoolgateGroup, RO]]


def resource_types() -> list[ResourceType]:
    types = []
    for model, name, endpoint, description in (
        (UserResource, "User", "/Users", "Accounts of the district's students, guardians and staff"),
        (
            GroupResource,
            "Group",
            "/Groups",
            "Schools and kinds of person (read-only: they come from the SIS)",
        ),
    ):
        rt = ResourceType.from_resource(model)
        rt.id, rt.name, rt.description = name, name, description
        rt.endpoint = endpoint
        types.append(rt)
    return types


def schemas() -> list[Schema]:
    return [
        User.to_schema(),
        SchoolgateUser.to_schema(),
        Group.to_schema(),
        SchoolgateGroup.to_schema(),
    ]


def service_provider_config() -> ServiceProviderConfig:
    return ServiceProviderConfig(
        documentation_uri="https://schoolgate.invalid/docs/scim",
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_COUNT),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="Bearer token",
                description="A Schoolgate SCIM token: schoolgate token create SLUG --scope scim",
                primary=True,
            )
        ],
    )
