"""Who reaches which API operation, generated from the API's own schema so that no operation can be forgotten.

- Every operation declares a permission (`x-permission`, enforced by `TokenAuth`); none is left undeclared.
- A token of district A gets 404 — not 403, not data — for every operation naming an object of district B (a
  person code, a sync run, a job, an upload, an override, B's slug), and listings show none of B's rows.
- Each token level is refused (403) every operation whose permission it lacks, and reaches the others.
- No token, a wrong token, a revoked token, or a SCIM token: 401.
- A query parameter the operation does not declare is refused (422 naming it), and changes nothing.
"""

from __future__ import annotations

import json

import pytest

from schoolgate.accounts.models import Account
from schoolgate.accounts.overrides import set_override
from schoolgate.admins import roles
from schoolgate.admins.authz import permissions_of
from schoolgate.admins.models import ApiToken, ServiceRole
from schoolgate.admins.tokens import create_token, revoke_token
from schoolgate.api.auth import UNDECLARED, TokenAuth
from schoolgate.api.main import api
from schoolgate.core.models import AuditEvent
from schoolgate.sync.tasks import run_sync_task
from tests.api.conftest import Api, token_for
from tests.api.operations import names_people, operations, request_for
from tests.builders import write_oneroster

OPERATIONS = operations()


def objects_of(district, populated: dict, tmp_path) -> dict:
    """Real objects of one district for every kind of URL part and people-naming field."""
    prefix = populated["code"][0]
    override = set_override(district, contact=f"{prefix}p0", student=f"{prefix}k0", field="reports", value=False,
                            reason="test", actor="test")  # fmt: skip
    upload = run_sync_task.enqueue(district.pk, str(tmp_path / f"{prefix}.zip"), "test", False)
    return {
        **populated, "codes": [populated["code"]], "to": f"{prefix}p1", "contact": f"{prefix}p0",
        "student": f"{prefix}k0", "person": populated["code"], "override_id": override.pk, "upload_id": upload.id,
    }  # fmt: skip


def sis_zip(tmp_path, prefix: str) -> bytes:
    users = [{"sourcedId": f"{prefix}k0", "role": "student", "familyName": "Kid"}]
    path = write_oneroster(tmp_path / f"zip-{prefix}", users=users, orgs=[{"sourcedId": f"{prefix}north"}],
                           zip_to=tmp_path / f"{prefix}-upload.zip")  # fmt: skip
    return path.read_bytes()


def send(api_client: Api, op, objects: dict, zip_bytes: bytes = b""):
    kwargs = request_for(op, objects, zip_bytes)
    path = kwargs.pop("path").removeprefix("/api/v1")
    if "query" in kwargs:
        kwargs["data"] = kwargs.pop("query")
    return api_client.call(op.method, path, **kwargs)


def test_every_operation_declares_a_permission():
    declared = {str(op): op.permission for op in OPERATIONS}
    assert len(declared) >= 25
    for router in api._routers:
        for path_view in router[1].path_operations.values():
            for operation in path_view.operations:
                auth = operation.auth_callbacks
                assert len(auth) == 1 and isinstance(auth[0], TokenAuth), operation.view_func.__name__
                assert auth[0].permission != UNDECLARED, (
                    f"{operation.view_func.__name__} declares no permission"
                )
                assert auth[0].permission in roles.ALL | {None}
    assert all(permission in roles.ALL | {None} for permission in declared.values())


def test_a_token_of_a_gets_404_for_every_object_of_b(two_districts, api_for, tmp_path):
    (a, a_objects), (b, b_objects) = two_districts
    a_objects, b_objects = objects_of(a, a_objects, tmp_path), objects_of(b, b_objects, tmp_path)
    a_api = api_for(a)
    b_accounts = list(
        Account.objects.filter(district=b).order_by("pk").values_list("pk", "state", "username")
    )
    b_events = AuditEvent.objects.filter(district=b).count()
    b_secrets = ("bravo", "Bravo", "BParent", "BKid", "bp0", "bk0", "bsouth", "bnorth")
    for op in OPERATIONS:
        for objects in (b_objects, {**a_objects, **{k: v for k, v in b_objects.items() if k != "slug"}}):
            if not names_people(op) or (objects["slug"] == a.slug and op.path_params == ("slug",)):
                continue  # nothing of B named (A's own slug)
            response = send(a_api, op, objects, sis_zip(tmp_path, "a"))
            assert response.status_code == 404, (str(op), response.status_code, response.content[:300])
            assert response.json()["error"]["code"] == "not_found"
            text = response.content.decode()
            for secret in ("Bravo", "BParent", "BKid"):
                assert secret not in text, (str(op), secret)
    # Listings of A hold nothing of B.
    for op in OPERATIONS:
        if op.method == "GET" and not names_people(op):
            response = send(a_api, op, a_objects)
            assert response.status_code in (200, 422), (str(op), response.status_code)
            for secret in b_secrets:
                assert secret not in response.content.decode(), (str(op), secret)
    assert list(Account.objects.filter(district=b).order_by("pk").values_list("pk", "state", "username")) == (
        b_accounts
    )
    assert AuditEvent.objects.filter(district=b).count() == b_events


# Token levels: Primary is refused for tokens (it manages admins) and so is School admin (a token names no
# schools, and `create_token` requires them); every other built-in level, and a service level.
LEVELS = [roles.SUPPORT_ROLE, roles.BILLING, roles.AUDITOR, "service:sis-bridge"]


@pytest.mark.parametrize("level", LEVELS)
def test_each_level_is_refused_what_it_may_not_do(two_districts, client, tmp_path, level):
    (a, a_objects), _ = two_districts
    a_objects = objects_of(a, a_objects, tmp_path)
    if level.startswith(roles.SERVICE_PREFIX):
        ServiceRole.objects.create(district=a, key="sis-bridge", name="SIS bridge",
                                   permissions=[roles.SYNC_VIEW, roles.SYNC_RUN])  # fmt: skip
    allowed = permissions_of(level, a)
    caller = Api(client, token_for(a, level))
    refused = reached = 0
    for op in OPERATIONS:
        response = send(caller, op, a_objects, sis_zip(tmp_path, "a"))
        assert response.status_code < 500, (str(op), response.content[:300])
        if op.permission is not None and op.permission not in allowed:
            assert response.status_code == 403, (level, str(op), response.status_code)
            body = response.json()["error"]
            assert body["code"] == "forbidden" and body["detail"]["permission"] == op.permission
            refused += 1
        else:
            assert response.status_code != 403, (level, str(op), response.content[:300])
            reached += 1
    assert reached >= 2  # every level reaches its district at least
    assert refused > 0  # no token level has every permission (admin management is the Primary's)


def test_no_valid_token_is_401(two_districts, client, api_for):
    (a, a_objects), _ = two_districts
    scim_raw, _ = create_token(a, level="support", scope="scim", name="scim", actor="test")
    revoked = api_for(a)
    revoke_token(ApiToken.objects.get(prefix=revoked.raw[:10]), actor="test")
    for headers in ({}, {"Authorization": "Bearer sg_nonsense"}, {"Authorization": f"Bearer {scim_raw}"},
                    {"Authorization": f"Bearer {revoked.raw}"}, {"Authorization": "Basic dXNlcjpwYXNz"}):  # fmt: skip
        for op in OPERATIONS:
            path = op.path.replace("{code}", a_objects["code"]).replace("{slug}", "alpha")
            path = path.replace("{run_id}", "1").replace("{job_id}", "1").replace("{override_id}", "1")
            response = client.generic(op.method, path.replace("{upload_id}", "x"), headers=headers)
            assert response.status_code == 401, (str(op), headers, response.status_code)
            assert response["WWW-Authenticate"].startswith("Bearer")
            assert json.loads(response.content)["error"]["code"] == "unauthenticated"


def test_a_query_parameter_the_operation_does_not_declare_is_refused(two_districts, api_for, tmp_path):
    """`?stat=invited` (for `state`) must not answer with the whole unfiltered list, nor act."""
    (a, a_objects), _ = two_districts
    a_objects = objects_of(a, a_objects, tmp_path)
    caller = api_for(a)
    accounts = list(Account.objects.filter(district=a).order_by("pk").values_list("pk", "state", "username"))
    events = AuditEvent.objects.filter(district=a).count()
    for op in OPERATIONS:
        kwargs = request_for(op, a_objects, sis_zip(tmp_path, "a"))
        path = kwargs.pop("path").removeprefix("/api/v1")
        kwargs["query_params"] = {**kwargs.pop("query", {}), "stat": "invited"}
        response = caller.call(op.method, path, **kwargs)
        assert response.status_code == 422, (str(op), response.status_code, response.content[:300])
        error = response.json()["error"]
        assert error["code"] == "invalid_input", str(op)
        assert error["message"].startswith("stat in query: not a parameter of this operation"), error
        assert error["detail"]["errors"][0]["field"] == "stat"
    assert (
        list(Account.objects.filter(district=a).order_by("pk").values_list("pk", "state", "username"))
        == accounts
    )
    assert AuditEvent.objects.filter(district=a).count() == events
