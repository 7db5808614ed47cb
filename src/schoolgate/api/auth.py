"""Who may call an operation: a Bearer token of the district, at a level that has the operation's permission.

Every operation declares its permission with `**needs(permission)`, which installs `TokenAuth(permission)` as
its authentication. `TokenAuth` is the one central check, run by ninja before the operation and before its
input is even parsed, in this order (as the console's `admin_view`):

1. the token (`admins.tokens.authenticate_token`, scope "api"): unknown, revoked or missing → **401**;
2. the permission (`Access.allows`): the token's level lacks it → **403**;
3. every object the URL names (person code, sync run, job, upload, override, district slug) belongs to the
   token's district, and to a school-limited level's schools → else **404**, exactly as for an object that does
   not exist — another district's objects are never confirmed, never 403, never data;
4. every query parameter is one the operation declares (as the schema lists them) → else **422** naming it: a
   misspelt filter (`?stat=invited`) must not answer with the whole unfiltered list.

It leaves `request.access`, `request.district` and `request.actor` ("api:<token prefix>") for the operation.
`TokenAuth.permission` is read by the generated access tests; the schema shows it as `x-permission`.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja.security import HttpBearer

from schoolgate.admins import authz
from schoolgate.admins.authz import Access
from schoolgate.admins.roles import ROLE_NAMES
from schoolgate.admins.tokens import authenticate_token
from schoolgate.api.errors import ApiError, not_found
from schoolgate.people.models import Person

# A permission no level has: the API's default, so an operation that forgot to declare one is refused.
UNDECLARED = "api.undeclared"
ANY_LEVEL = None  # any valid token of the district (the district's own description)
MAX_ID = 2**63 - 1
NUL = "\x00"


class TokenAuth(HttpBearer):
    """Bearer token + permission + URL objects; see the module docstring."""

    def __init__(self, permission: str | None) -> None:
        super().__init__()
        self.permission = permission

    def authenticate(self, request: HttpRequest, token: str) -> Access | None:
        access = authenticate_token(token, scope="api") if token and NUL not in token else None
        if access is None:
            return None  # ninja answers 401
        if self.permission is not None and not access.allows(self.permission):
            level = ROLE_NAMES.get(access.role, access.role)
            raise ApiError(403, "forbidden", f"this token's level ({level}) does not allow {self.permission}",
                           {"permission": self.permission, "level": access.role})  # fmt: skip
        request.access, request.district = access, access.district  # type: ignore[attr-defined]
        request.actor = f"api:{token[:10]}"  # type: ignore[attr-defined]  # the prefix `token list` shows
        _refuse_nul(request)
        kwargs = request.resolver_match.kwargs if request.resolver_match else {}
        for name, value in kwargs.items():
            require_object(request, name, value)
        _refuse_unknown_query(request)
        return access


def needs(permission: str | None) -> dict[str, Any]:
    """Route keyword arguments: the auth that enforces `permission`, and the permission shown in the schema."""
    return {"auth": TokenAuth(permission), "openapi_extra": {"x-permission": permission or "any"}}


def _refuse_nul(request: HttpRequest) -> None:
    """PostgreSQL cannot store or compare text containing NUL: name the parameter instead of failing later."""
    for name, value in request.GET.items():
        if NUL in value:
            raise ApiError(400, "bad_request", f"{name} in query contains a NUL character", {"field": name})
    if request.content_type == "application/json" and (b"\\u0000" in request.body or b"\x00" in request.body):
        raise ApiError(400, "bad_request", "the JSON body contains a NUL character", {"location": "body"})


@cache
def _declared_query() -> dict[tuple[str, str], frozenset[str]]:
    """(method, path as the schema writes it) → the query parameters the operation declares. Read from the
    schema ninja builds from the code, once per process (about 0.3 s, on its first API request)."""
    from schoolgate.api.main import api  # the operations import this module

    paths = api.get_openapi_schema(path_prefix="/api/v1/")["paths"]
    return {
        (method.upper(), path): frozenset(p["name"] for p in op.get("parameters", []) if p["in"] == "query")
        for path, methods in paths.items()
        for method, op in methods.items()
    }


# A URL route's parameter as Django writes it (<code>, <int:job_id>); the schema writes {code}.
ROUTE_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


def _refuse_unknown_query(request: HttpRequest) -> None:
    route = request.resolver_match.route if request.resolver_match else ""
    path = "/" + ROUTE_PARAMETER.sub(r"{\1}", route)
    declared = _declared_query().get((request.method or "", path))
    unknown = sorted(set(request.GET) - declared) if declared is not None else []
    if unknown:
        takes = f"it takes {', '.join(sorted(declared))}" if declared else "it takes none"
        message = f"{unknown[0]} in query: not a parameter of this operation ({takes})"
        error = {"location": "query", "field": unknown[0], "message": "not a parameter of this operation"}
        raise ApiError(422, "invalid_input", message, {"errors": [error]})


def people_in_scope(request: HttpRequest) -> QuerySet[Person]:
    """The people this token may see and act on: the district's, or a school-limited level's schools'."""
    return authz.people_in_scope(request.access)  # type: ignore[attr-defined]


def require_people(request: HttpRequest, *codes: str) -> None:
    """404 unless every person named (by SIS code) is in the district and in this token's scope."""
    wanted = {code for code in codes if code}
    if not wanted:
        return
    found = set(people_in_scope(request).filter(sis_code__in=wanted).values_list("sis_code", flat=True))
    missing = sorted(wanted - found)
    if missing:
        raise not_found("person", missing[0])


def _number(name: str, value: str) -> int:
    if not value.isdigit() or not 0 < int(value) <= MAX_ID:
        raise not_found(name, value)
    return int(value)


def require_object(request: HttpRequest, name: str, value: str) -> None:
    """404 unless the object a URL names is the district's (and in a school-limited level's scope)."""
    from django_tasks_db.models import DBTaskResult

    from schoolgate.people.models import Override
    from schoolgate.sync.models import SyncRun
    from schoolgate.sync.tasks import run_sync_task

    district = request.district  # type: ignore[attr-defined]
    if NUL in value:
        raise not_found(name, value)
    if name == "slug":
        if value != district.slug:
            raise ApiError(404, "not_found", f"no district {value!r}", {"district": value})
    elif name == "code":
        require_people(request, value)
    elif name == "run_id":
        if not SyncRun.objects.filter(district=district, pk=_number("sync run", value)).exists():
            raise not_found("sync run", value)
    elif name == "job_id":
        if not jobs_of(request).filter(pk=_number("job", value)).exists():
            raise not_found("job", value)
    elif name == "override_id":
        link = Override.objects.filter(district=district, pk=_number("override", value)).values_list(
            "link__contact__sis_code", "link__student__sis_code"
        )
        if not link:
            raise not_found("override", value)
        require_people(request, *link[0])
    elif name == "upload_id":
        if not _is_uuid(value):
            raise not_found("upload", value)
        task = DBTaskResult.objects.filter(id=value, task_path=run_sync_task.module_path).first()
        if task is None or task.args_kwargs.get("args", [None])[0] != district.pk:
            raise not_found("upload", value)
    else:  # pragma: no cover - a new kind of URL object must be added here, or it would go unchecked
        raise KeyError(f"the API has no tenancy check for URL part {name!r}")


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def jobs_of(request: HttpRequest) -> QuerySet:
    """The district's jobs this token may follow: all of them, or a school-limited token's own."""
    from schoolgate.jobs.models import Job

    jobs = Job.objects.filter(district=request.district)  # type: ignore[attr-defined]
    return jobs.filter(created_by=request.actor) if request.access.school_limited else jobs  # type: ignore[attr-defined]
