"""The claims an app receives about a portal account, in ID tokens and at the userinfo endpoint.

    sub          stable per account (a random UUID kept on its OIDC identity)      scope openid
    kind         student | contact | staff                                         scope openid
    district     the district's slug                                               scope openid
    name, given_name, family_name, preferred_username (the portal username)        scope profile
    email                                                                          scope email
    students     what the portal's "My students" shows: each student the account   scope students
                 may see, with only the sections it is permitted for that student

`students` comes from `accounts.portal_data.visible_students`, the function the portal page itself uses,
so an app can never show a guardian more than the portal does.
"""

from __future__ import annotations

from typing import Any

from schoolgate.accounts.portal_data import visible_students
from schoolgate.oidc.models import OidcIdentity

# claim → the scope that releases it (django-oauth-toolkit drops a claim whose scope was not granted).
CLAIM_SCOPES = {
    "sub": "openid",
    "kind": "openid",
    "district": "openid",
    "name": "profile",
    "given_name": "profile",
    "family_name": "profile",
    "preferred_username": "profile",
    "email": "email",
    "students": "students",
}


def students_claim(identity: OidcIdentity) -> list[dict[str, Any]]:
    return [
        {"id": s.code, "name": s.name, "grades": s.grades, "sections": s.sections}
        for s in visible_students(identity.account)
    ]


def claims_for(identity: OidcIdentity, scopes: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Every claim the granted `scopes` release for this identity (students only when asked for)."""
    person = identity.account.person
    values: dict[str, Any] = {
        "sub": str(identity.subject),
        "kind": person.kind,
        "district": identity.district.slug,
        "name": person.display_name,
        "given_name": person.given_name,
        "family_name": person.family_name,
        "preferred_username": identity.account.username or "",
        "email": person.email or "",
    }
    if "students" in scopes:  # the one claim that costs a query
        values["students"] = students_claim(identity)
    return {claim: value for claim, value in values.items() if CLAIM_SCOPES[claim] in scopes}
