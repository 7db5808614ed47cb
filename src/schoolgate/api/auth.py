"""Who may call an operation: a Bearer token of the district, at a level that has the operation's permission.

Every operation declares its permission with `**needs(permission)`, which installs `TokenAuth(permission)` as
its authentication. `TokenAuth` is the one central check, run by ninja before the operation and before its
input is even parsed, in this order (as the console's `admin_view`):

1. the token (`admins.tokens.authenticate_token`, scope "api"): unknown, revoked or missing → **401**;
2. the permission (`Access.allows`): the token's level lacks it → **403**;
3. a body sent to an operation that takes one is JSON (application/json or a +json type) → else **415** naming
   its type: ninja reads such a body as JSON whatever its Content-Type, so a form or text body that happens to
   parse would be acted on; a query value or JSON body holding NUL → **400** (PostgreSQL cannot store it);
4. every object the URL names (person code, sync run, job, upload, override, district slug) belongs to the
   token's district, and to a school-limited level's schools → else **404**, exactly as for an object that does
   not exist — another district's objects are never confirmed, never 403, never data;
5. every query parameter is one the operation declares (as the schema lists them) → else **422** naming it: a
   misspelt filter (`?stat=invited`) must not answer with the whole unfiltered list.

It leaves `request.access`, `request.district` and `request.actor` ("api:<token prefix>") for the operation.
`TokenAuth.permission` is read by the generated access tests; the schema shows it as `x-permission`.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, NamedTuple

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja.security import HttpBearer

from schoolgate.admins import authz
from schoolgate.admins.authz import Access
from schoolgate.admins.roles import ROLE_NAMES
from schoolgate.admins.tokens import authenticate_token
from schoolgate.api.errors import ApiError, not_found
from schoolgate.core.numbers import whole_number
from schoolgate.people.models import Person

# A permission no level has: the API's default, so an operation that forgot to declare one is refused.
UNDECLARED = "api.undeclared"
ANY_LEVEL = None  # any valid token of the district (the district's own description)
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
        declared = _declared_by(request)
        _refuse_body_type(request, declared)
        _refuse_nul(request)
        kwargs = request.resolver_match.kwargs if request.resolver_match else {}
        for name, value in kwargs.items():
            require_object(request, name, value)
        _refuse_unknown_query(request, declared)
        return access


def needs(permission: str | None) -> dict[str, Any]:
    """Route keyword arguments: the auth that enforces `permission`, and the permission shown in the schema."""
    return {"auth": TokenAuth(permission), "openapi_extra": {"x-permission": permission or "any"}}


class Declared(NamedTuple):
    """What an operation takes besides its path, as the schema lists it."""

    query: frozenset[str]  # its query parameters
    json_body: bool  # whether it reads a JSON body (else none, or a multipart form)


@cache
def _declared() -> dict[tuple[str, str], Declared]:
    """(method, path as the schema writes it) → what the operation declares. Read from the schema ninja builds
    from the code, once per process (about 0.3 s, on its first API request)."""
    from schoolgate.api.main import api  # the operations import this module

    paths = api.get_openapi_schema(path_prefix="/api/v1/")["paths"]
    return {
        (method.upper(), path): Declared(
            query=frozenset(p["name"] for p in op.get("parameters", []) if p["in"] == "query"),
            json_body="application/json" in op.get("requestBody", {}).get("content", {}),
        )
        for path, methods in paths.items()
        for method, op in methods.items()
    }


# A URL route's parameter as Django writes it (<code>, <int:job_id>); the schema writes {code}.
ROUTE_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


def _declared_by(request: HttpRequest) -> Declared | None:
    """What the operation this request reached declares (None for a path and method the schema lacks)."""
    route = request.resolver_match.route if request.resolver_match else ""
    path = "/" + ROUTE_PARAMETER.sub(r"{\1}", route)
    return _declared().get((request.method or "", path))


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def _sends_body(request: HttpRequest) -> bool:
    # Django reads CONTENT_LENGTH bytes of body (none without it): asked so, a body about to be refused is not
    # read into memory first.
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > 0
    except ValueError:
        return False


def _refuse_body_type(request: HttpRequest, declared: Declared | None) -> None:
    """415 for a body the operation would read as JSON but that is sent as something else (see step 3)."""
    if declared is None or not declared.json_body or not _sends_body(request):
        return  # no body (confirm, unlock, GET, DELETE), or a multipart upload, which ninja reads as a form
    content_type = request.content_type or ""
    if not _is_json(content_type):
        shown = content_type or "no Content-Type"
        raise ApiError(415, "unsupported_media_type", f"the request body is {shown}; send it as application/json",
                       {"content_type": content_type})  # fmt: skip


def _refuse_nul(request: HttpRequest) -> None:
    """PostgreSQL cannot store or compare text containing NUL: name the parameter instead of failing later."""
    for name, value in request.GET.items():
        if NUL in value:
            raise ApiError(400, "bad_request", f"{name} in query contains a NUL character", {"field": name})
    if _is_json(request.content_type or "") and (b"\\u0000" in request.body or b"\x00" in request.body):
        raise ApiError(400, "bad_request", "the JSON body contains a NUL character", {"location": "body"})


def _refuse_unknown_query(request: HttpRequest, declared: Declared | None) -> None:
    unknown = sorted(set(request.GET) - declared.query) if declared is not None else []
    if unknown:
        takes = f"it takes {', '.join(sorted(declared.query))}" if declared.query else "it takes none"
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
    number = whole_number(value)  # "²" or "٣" is no id: 404 as "abc" is, not a 500 or another spelling of 3
    if number is None:
        raise not_found(name, value)
    return number


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
