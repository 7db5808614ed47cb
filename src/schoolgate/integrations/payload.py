"""The SCIM 2.0 User representation of Schoolgate accounts (RFC 7643), built here rather than borrowed from
our own SCIM server so that the push client depends only on the standard.

    {
      "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", EXTENSION],
      "userName": "priya.n",                  # the username; the SIS code until one is chosen
      "externalId": "p1",                      # the SIS code (sourcedId): stable across username changes
      "name": {"givenName": …, "familyName": …, "formatted": …},
      "displayName": …,
      "emails": [{"value": …, "type": "home", "primary": true}],
      "active": true,
      EXTENSION: {"kind": "contact", "students": ["k1", "k2"]}     # students: what a guardian may see
    }

A downstream service should register EXTENSION (`extension_schema()` describes it) or ignore it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from schoolgate.accounts.models import Account, AccountState
from schoolgate.accounts.queries import visible_students
from schoolgate.core.models import District
from schoolgate.people.models import PersonKind

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
EXTENSION = "urn:schoolgate:params:scim:schemas:extension:schoolgate:2.0:User"
# States in which the login exists and may be used downstream (ready_to_revoke still holds credentials
# until an admin or the sync confirms the revocation).
ACTIVE_STATES = (AccountState.INVITED, AccountState.ACTIVE, AccountState.READY_TO_REVOKE)


@dataclass(frozen=True)
class Desired:
    """What downstream should hold for one account: a full user, or just "inactive" (revoked or gone)."""

    active: bool
    user: dict[str, Any] | None  # the full representation when active
    sis_code: str = ""

    @property
    def digest(self) -> str:
        """A fingerprint of the representation: an unchanged one is not sent again."""
        body = json.dumps({"active": self.active, "user": self.user}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()


INACTIVE = Desired(active=False, user=None)


def desired_states(district: District, account_ids: list[int]) -> dict[int, Desired]:
    """The desired downstream state of each account (an account that no longer exists is inactive)."""
    rows = list(
        Account.objects.filter(district=district, id__in=account_ids).values_list(
            "id", "state", "username", "person_id", "person__sis_code", "person__kind", "person__given_name",
            "person__preferred_given_name", "person__family_name", "person__email",
        )
    )  # fmt: skip
    contacts = [row[3] for row in rows if row[5] == PersonKind.CONTACT and row[1] in ACTIVE_STATES]
    students = visible_students(district, contacts) if contacts else {}
    result: dict[int, Desired] = dict.fromkeys(account_ids, INACTIVE)
    for account_id, state, username, person_id, code, kind, given, preferred, family, email in rows:
        if state not in ACTIVE_STATES:
            result[account_id] = Desired(active=False, user=None, sis_code=code)
            continue
        given_name = preferred or given
        user: dict[str, Any] = {
            "schemas": [USER_SCHEMA, EXTENSION],
            "userName": username or code,
            "externalId": code,
            "name": {
                "givenName": given_name,
                "familyName": family,
                "formatted": " ".join(p for p in (given_name, family) if p),
            },
            "displayName": " ".join(p for p in (given_name, family) if p) or code,
            "active": True,
            EXTENSION: {"kind": kind, "students": students.get(person_id, [])},
        }
        if email:
            user["emails"] = [{"value": email, "type": "home", "primary": True}]
        result[account_id] = Desired(active=True, user=user, sis_code=code)
    return result


def deactivation() -> dict[str, Any]:
    """The PATCH body that switches a user off (RFC 7644 §3.5.2)."""
    return {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": False}]}


def extension_schema() -> dict[str, Any]:
    """The RFC 7643 schema resource of EXTENSION, for a downstream service to register."""

    def attribute(name: str, multi: bool, description: str) -> dict[str, Any]:
        return {"name": name, "type": "string", "multiValued": multi, "required": False,
                "caseExact": True, "mutability": "readWrite", "returned": "default", "uniqueness": "none",
                "description": description}  # fmt: skip

    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": EXTENSION,
        "name": "SchoolgateUser",
        "description": "Schoolgate: the person's kind and the students a guardian may see",
        "attributes": [
            attribute("kind", False, "student, contact or staff"),
            attribute("students", True, "SIS codes of the students this contact may see"),
        ],
        "meta": {"resourceType": "Schema", "location": f"/v2/Schemas/{EXTENSION}"},
    }
