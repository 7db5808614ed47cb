"""The small OneRoster 1.1 set (a district, two schools, a family, staff) shared by the OneRoster reader tests."""

from __future__ import annotations

from tests.builders import write_oneroster

ORGS = [
    {"sourcedId": "dist", "name": "Bay District", "type": "district"},
    {"sourcedId": "sch1", "name": "Bay Primary", "parentSourcedId": "dist"},
    {"sourcedId": "sch2", "name": "Bay High"},
]


def family_11() -> list[dict]:
    return [
        {
            "sourcedId": "s1",
            "givenName": "Ada",
            "familyName": "Lee",
            "orgSourcedIds": "sch1, sch2",
            "agentSourcedIds": " p1 , p2,,p1",  # spaces, an empty entry and a repeat
            "grades": "04",
            "username": "ada.lee",
        },
        {
            "sourcedId": "p1",
            "role": "parent",
            "givenName": "Bo",
            "agentSourcedIds": "s1",
            "email": "bo@x.example",
        },
        {"sourcedId": "p2", "role": "guardian", "givenName": "Cy", "enabledUser": "FALSE"},
        {"sourcedId": "t1", "role": "teacher", "orgSourcedIds": "sch2", "phone": "+1555", "sms": "+1556"},
        {"sourcedId": "a1", "role": "aide", "identifier": "A-1", "middleName": "Q"},
    ]


def set_11(tmp_path, **kw):
    return write_oneroster(tmp_path / "set", orgs=ORGS, users=family_11(), **kw)
