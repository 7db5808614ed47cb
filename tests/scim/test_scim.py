"""The SCIM server's behaviour: auth and tenancy, filters, pagination, PATCH through the lifecycle, ETags."""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest

from schoolgate.accounts import portal_data
from schoolgate.accounts.models import Account, AccountState
from schoolgate.accounts.queries import visible_students
from schoolgate.core.models import AuditEvent
from schoolgate.people.models import Link, PersonKind
from tests.factories import make_district, make_person
from tests.scim.conftest import make_token, populate

pytestmark = pytest.mark.django_db(transaction=True)
JSON = {"Content-Type": "application/scim+json"}


def users(http, **params):
    response = http.get("/Users", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    return response.json()


def test_users_carry_person_kind_and_guardian_students(scim):
    with scim.http() as http:
        body = users(http, filter='userName eq "mia"')
    assert body["totalResults"] == 1
    mia = body["Resources"][0]
    ext = mia["urn:schoolgate:params:scim:schemas:extension:schoolgate:2.0:User"]
    assert mia["active"] is True and ext["kind"] == "contact" and ext["sisCode"] == "mum"
    assert [s["value"] for s in ext["students"]] == ["k1", "k2"]
    assert ext["students"][0]["sections"]
    assert mia["meta"]["version"].startswith('W/"')


def test_guardian_students_follow_the_portal_rule(scim):
    """A student the guardian may not see in the portal (flag off, or gone from the SIS) is not listed."""
    mum = Account.objects.get(district__slug=scim.slug, person__sis_code="mum")
    Link.objects.filter(contact=mum.person, student__sis_code="k2").update(portal_flag=False)
    with scim.http() as http:
        (mia,) = users(http, filter='userName eq "mia"')["Resources"]
    ext = mia["urn:schoolgate:params:scim:schemas:extension:schoolgate:2.0:User"]
    assert [s["value"] for s in ext["students"]] == ["k1"]
    assert visible_students(mum.district, [mum.person_id])[mum.person_id] == ["k1"], "as the listings say"
    assert [s.code for s in portal_data.visible_students(mum)] == ["k1"], "as the portal page says"


def test_filters_and_pagination(scim):
    with scim.http() as http:
        everyone = users(http)["totalResults"]
        assert users(http, filter='userName sw "k"')["totalResults"] == 3
        assert users(http, filter='emails co "EXAMPLE.org"')["totalResults"] == 3
        assert users(http, filter='userName eq "k1" or userName eq "k2"')["totalResults"] == 2
        assert users(http, filter='active eq true and userName co "i"')["totalResults"] == 1
        assert users(http, filter='externalId eq "nobody"')["totalResults"] == 0
        page = users(http, startIndex=2, count=2)
        assert page["totalResults"] == everyone and page["itemsPerPage"] == 2 and page["startIndex"] == 2
        bad = http.get("/Users", params={"filter": "userName eq"})
        assert bad.status_code == 400 and bad.json()["scimType"] == "invalidFilter"
        # Thousands of or-terms: a SCIM error, not a query the database refuses (a 500 on SQLite).
        endless = " or ".join(['userName co "a"'] * 3000)
        search = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": endless}
        huge = http.post("/Users/.search", json=search)
        assert huge.status_code == 400 and huge.json()["scimType"] == "invalidFilter", huge.text[:300]
        assert "more than 50 comparisons" in huge.json()["detail"]
        fifty = " or ".join(['userName eq "k1"'] * 50)
        assert users(http, filter=fifty)["totalResults"] == 1, "50 is still a filter"
        unknown = http.get("/Users", params={"filter": 'title eq "x"'})
        assert unknown.status_code == 400 and "title" in unknown.json()["detail"]


def test_presence_and_its_negation(scim):
    """Every User has an id, a userName and `active`: `pr` matches all of them, and `not (… pr)` none."""
    with scim.http() as http:
        everyone = users(http)["totalResults"]
        assert everyone > 0
        for present in ("userName pr", "id pr", "active pr", 'not (userName eq "nobody")'):
            assert users(http, filter=present)["totalResults"] == everyone, present
        for absent in (
            "not (userName pr)",
            "not (id pr)",
            "not (active pr)",
            "not (id pr) or not (active pr)",
        ):
            assert users(http, filter=absent)["totalResults"] == 0, absent
        with_email = users(http, filter="emails pr")["totalResults"]
        assert 0 < with_email < everyone
        assert users(http, filter="not (emails pr)")["totalResults"] == everyone - with_email


def _arabic(number: int | str) -> str:
    """`number` in Arabic-Indic digits: str.isdigit() is true for them, and int() reads them."""
    return str(number).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))


def test_an_id_in_other_digits_names_no_user(scim):
    """str.isdigit() is true for "²", which int() refuses (a 500), and for "٣", which it reads as 3 (a second
    spelling of an id). Only ASCII digits name a User: anything else is 404 on the path, nothing in a filter."""
    with scim.http() as http:
        mia = users(http, filter='userName eq "mia"')["Resources"][0]
        everyone = users(http)["totalResults"]
        patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                 "Operations": [{"op": "replace", "path": "active", "value": False}]}  # fmt: skip
        put = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": mia["userName"]}
        for spelling in ("%C2%B2", quote(_arabic(mia["id"]))):
            for method, body in (("GET", None), ("PATCH", patch), ("PUT", put), ("DELETE", None)):
                response = http.request(method, f"/Users/{spelling}", json=body)
                assert response.status_code == 404, (method, spelling, response.text[:300])
                assert response.headers["content-type"].startswith("application/scim+json")
                assert response.json()["status"] == "404" and "no User" in response.json()["detail"]
        for value in ("²", _arabic(mia["id"])):
            assert users(http, filter=f'id eq "{value}"')["totalResults"] == 0, value
            assert users(http, filter=f'id ne "{value}"')["totalResults"] == everyone, value
            assert users(http, filter=f'not (id eq "{value}")')["totalResults"] == everyone, value
        assert users(http, filter=f'id eq "{mia["id"]}"')["totalResults"] == 1
    assert Account.objects.get(pk=mia["id"]).state == AccountState.ACTIVE, "nothing was changed"


def test_an_unexpected_error_is_a_scim_error_and_logged(scim, client, monkeypatch, caplog):
    """A SCIM client always gets the SCIM error shape, never Django's HTML page; the operator gets the
    traceback."""
    from schoolgate.scim import resources

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(resources, "user_queryset", broken)
    with caplog.at_level(logging.ERROR):
        response = client.get(
            f"/scim/v2/{scim.slug}/Users", headers={"Authorization": f"Bearer {scim.token}"}
        )
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/scim+json")
    body = response.json()
    assert body["status"] == "500" and "scimType" not in body
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert "database went away" not in body["detail"], "no internals for the client"
    (record,) = [r for r in caplog.records if r.exc_info]
    assert record.exc_info[0] is RuntimeError and "/Users" in record.getMessage()


def test_a_body_over_the_upload_limit_is_a_scim_413(scim, client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x" * 20_000}
    response = client.post(f"/scim/v2/{scim.slug}/Users", data=body, content_type="application/scim+json",
                           headers={"Authorization": f"Bearer {scim.token}"})  # fmt: skip
    assert response.status_code == 413 and response.json()["status"] == "413"
    assert "10000 bytes" in response.json()["detail"]


def test_405_names_the_methods_of_each_path(scim):
    """RFC 9110 §15.5.6: a 405 carries Allow with the methods the target supports."""
    with scim.http() as http:
        user_id = users(http, filter='userName eq "mia"')["Resources"][0]["id"]
        for method, path, allowed in (
            ("DELETE", "/Users", "GET, POST"),
            ("GET", "/Users/.search", "POST"),
            ("POST", f"/Users/{user_id}", "GET, PUT, PATCH, DELETE"),
            ("POST", "/Groups", "GET"),
            ("DELETE", "/Groups/kind-student", "GET"),
            ("GET", "/Groups/.search", "POST"),
            ("GET", "/.search", "POST"),
            ("POST", "/ServiceProviderConfig", "GET"),
            ("PUT", "/Schemas", "GET"),
            ("DELETE", "/ResourceTypes/User", "GET"),
        ):
            response = http.request(method, path)
            assert response.status_code == 405, (method, path, response.text[:300])
            assert response.headers["Allow"] == allowed, (method, path)
            assert response.json()["status"] == "405"


def test_patch_active_false_revokes_through_the_lifecycle(scim):
    with scim.http() as http:
        mia = users(http, filter='userName eq "mia"')["Resources"][0]
        patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                 "Operations": [{"op": "replace", "path": "active", "value": False}]}  # fmt: skip
        response = http.patch(f"/Users/{mia['id']}", json=patch, headers=JSON)
        assert response.status_code == 200, response.text
        assert response.json()["active"] is False
    account = Account.objects.get(pk=mia["id"])
    assert account.state == AccountState.REVOKED and account.username is None
    event = AuditEvent.objects.get(action="account.revoked", target_id=account.pk)
    assert event.actor == f"scim:{scim.token[:10]}"


def test_post_lists_an_eligible_sis_person_then_active_true_provisions(scim):
    from schoolgate.core.models import District

    make_person(District.objects.get(slug=scim.slug), PersonKind.STUDENT, code="newkid", login_allowed=True)
    with scim.http() as http:
        posted = http.post("/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                           "userName": "newkid", "active": False}, headers=JSON)  # fmt: skip
        assert posted.status_code == 201, posted.text
        ready = [posted.json()]
        assert Account.objects.get(pk=ready[0]["id"]).state == AccountState.READY_TO_PROVISION
        op = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "replace", "path": "active", "value": True}]}  # fmt: skip
        assert http.patch(f"/Users/{ready[0]['id']}", json=op, headers=JSON).json()["active"] is True
        assert Account.objects.get(pk=ready[0]["id"]).state == AccountState.INVITED
        off = {**op, "Operations": [{"op": "replace", "path": "active", "value": False}]}
        http.patch(f"/Users/{ready[0]['id']}", json=off, headers=JSON)
        refused = http.patch(f"/Users/{ready[0]['id']}", json=op, headers=JSON)
        assert refused.status_code == 400 and refused.json()["scimType"] == "mutability"
        assert "revoked" in refused.json()["detail"]


def test_a_body_that_is_not_json_is_refused_and_changes_nothing(scim):
    """RFC 7644 §3.1: bodies are application/scim+json (application/json is accepted too); a form or text
    body is 415 with a SCIM error naming the type, however JSON-like its bytes."""
    import json

    with scim.http() as http:
        mia = users(http, filter='userName eq "mia"')["Resources"][0]
        off = json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                          "Operations": [{"op": "replace", "path": "active", "value": False}]})  # fmt: skip
        for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = {"Content-Type": content_type} if content_type else {}
            refused = http.patch(f"/Users/{mia['id']}", content=off, headers=headers)
            assert refused.status_code == 415, refused.text
            assert refused.json()["status"] == "415" and "application/scim+json" in refused.json()["detail"]
            if content_type:  # with none, the WSGI server reports text/plain
                assert content_type in refused.json()["detail"]
        assert Account.objects.get(pk=mia["id"]).state != AccountState.REVOKED
        charset = http.patch(f"/Users/{mia['id']}", content=off,
                             headers={"Content-Type": "application/scim+json; charset=utf-8"})  # fmt: skip
        assert charset.status_code == 200, charset.text
    assert Account.objects.get(pk=mia["id"]).state == AccountState.REVOKED


def test_read_only_sis_data_and_post_of_unknown_people_are_refused(scim):
    with scim.http() as http:
        created = http.post("/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                            "userName": "nobody", "active": True}, headers=JSON)  # fmt: skip
        assert created.status_code == 400 and "come from the SIS" in created.json()["detail"]
        again = http.post("/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                          "userName": "k1", "active": False}, headers=JSON)  # fmt: skip
        assert again.status_code == 409 and again.json()["scimType"] == "uniqueness"
        group = http.post("/Groups", json={"displayName": "x"}, headers=JSON)
        assert group.status_code == 405 and group.json()["status"] == "405"


def test_etag_if_match(scim):
    with scim.http() as http:
        mia = users(http, filter='userName eq "mia"')["Resources"][0]
        got = http.get(f"/Users/{mia['id']}")
        assert got.headers["ETag"] == mia["meta"]["version"]
        op = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "add", "path": "externalId", "value": "idp-1"}]}  # fmt: skip
        stale = http.patch(f"/Users/{mia['id']}", json=op, headers={**JSON, "If-Match": 'W/"stale"'})
        assert stale.status_code == 412
        fresh = http.patch(f"/Users/{mia['id']}", json=op, headers={**JSON, "If-Match": got.headers["ETag"]})
        assert fresh.status_code == 200 and fresh.json()["externalId"] == "idp-1"
        assert fresh.headers["ETag"] != got.headers["ETag"]
        assert users(http, filter='externalId eq "idp-1"')["totalResults"] == 1


def test_groups_are_schools_and_kinds(scim):
    with scim.http() as http:
        body = http.get("/Groups").json()
        names = {g["displayName"] for g in body["Resources"]}
        assert {"North", "South", "Students", "Guardians", "Staff"} <= names
        north = next(g for g in body["Resources"] if g["displayName"] == "North")
        assert http.get(f"/Groups/{north['id']}").status_code == 200
        assert http.get("/Groups", params={"filter": 'displayName eq "South"'}).json()["totalResults"] == 1


def test_auth_tenancy_and_permissions(scim, cli, tmp_path):
    other = make_district()
    populate(cli, other, tmp_path, prefix="o")
    other_token = make_token(cli, other.slug)
    auditor = make_token(cli, scim.slug, level="auditor")
    foreign_id = Account.objects.filter(district=other).first().pk
    with scim.http() as http:
        assert http.get(f"/Users/{foreign_id}").status_code == 404  # another district's account
    with scim.http(other_token) as http:
        response = http.get("/Users")  # a token of another district, under this district's URL
        assert response.status_code == 404 and response.json()["status"] == "404"
    with scim.http("sg_not-a-token") as http:
        assert http.get("/Users").status_code == 401
    with scim.http(auditor) as http:
        mia = users(http, filter='userName eq "mia"')["Resources"][0]
        op = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "replace", "path": "active", "value": False}]}  # fmt: skip
        refused = http.patch(f"/Users/{mia['id']}", json=op, headers=JSON)
        assert refused.status_code == 403 and "may not change accounts" in refused.json()["detail"]
