"""The SCIM 2.0 HTTP endpoints of one district: /scim/v2/<district>/…

One view routes every path of a district, so authentication, tenancy, permissions, content type and error
bodies are decided in one place:

* a Bearer token of scope "scim" is required everywhere (401 without a valid one);
* the token's district must be the URL's: any other district, known or not, is 404 (its existence is never
  confirmed);
* reads need VIEW_ACCOUNTS and writes ACT_ACCOUNTS (403 otherwise);
* a request body must be application/scim+json (or application/json): anything else is 415;
* a method a path does not take is 405, with the path's own methods in Allow;
* every error is a SCIM Error body (urn:ietf:params:scim:api:messages:2.0:Error) with status and scimType —
  an unexpected failure too: a 500 without scimType, its traceback logged for the operator.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError
from scim2_models import (
    Context,
    Error,
    ForbiddenException,
    InvalidSyntaxException,
    InvalidValueException,
    NotFoundException,
    PatchOp,
    PreconditionFailedException,
    ResponseParameters,
    SCIMException,
    SearchRequest,
    UnauthorizedException,
)

from schoolgate.admins import roles
from schoolgate.admins.authz import Access
from schoolgate.admins.tokens import authenticate_token
from schoolgate.scim import filters, resources
from schoolgate.scim import schemas as s

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/scim+json"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
DISCOVERY = ("ServiceProviderConfig", "ResourceTypes", "Schemas")


class MethodNotAllowed(SCIMException):
    status = 405
    _default_detail = "method not allowed"

    def __init__(self, allowed: tuple[str, ...], *, detail: str | None = None) -> None:
        super().__init__(detail=detail)
        self.allowed = allowed  # the path's methods, for the Allow header (RFC 9110 §15.5.6)


class UnsupportedMediaType(SCIMException):
    status = 415
    _default_detail = "unsupported media type"


class TooLarge(SCIMException):
    status = 413
    _default_detail = "the request body is too large"


class ServerError(SCIMException):
    status = 500
    _default_detail = "the server failed to answer; the error has been logged"


# The methods of each kind of path, for 405's Allow header.
READ = ("GET",)
SEARCH = ("POST",)
USERS = ("GET", "POST")
USER = ("GET", "PUT", "PATCH", "DELETE")


def respond(
    body: dict[str, Any] | None, status: int = 200, headers: dict[str, str] | None = None
) -> HttpResponse:
    content = b"" if body is None else json.dumps(body).encode()
    response = HttpResponse(content, status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_response(exc: SCIMException, headers: dict[str, str] | None = None) -> HttpResponse:
    error = exc.to_error()
    body = error.model_dump()
    body["status"] = str(exc.status)  # RFC 7644 §3.12: the status is a string
    return respond(body, exc.status, headers)


def _authenticate(request: HttpRequest, slug: str) -> Access:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    access = authenticate_token(raw.strip(), scope="scim") if scheme.lower() == "bearer" and raw else None
    if access is None:
        raise UnauthorizedException(detail="a valid SCIM Bearer token is required")
    if access.district.slug != slug:
        raise NotFoundException(detail=f"no SCIM service at district {slug!r}")
    return access


def _require(access: Access, permission: str) -> None:
    if not access.allows(permission):
        what = "read accounts" if permission == roles.VIEW_ACCOUNTS else "change accounts"
        raise ForbiddenException(detail=f"this token's level ({access.role}) may not {what}")


# RFC 7644 §3.1 and §8.1: requests carry application/scim+json; plain application/json is accepted too.
BODY_TYPES = (CONTENT_TYPE, "application/json")


def _body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object. A body sent as anything but JSON is refused (415) rather than guessed at:
    a form or text body parsed as JSON by accident would be acted on."""
    if request.body and request.content_type not in BODY_TYPES:
        shown = request.content_type or "no Content-Type"
        raise UnsupportedMediaType(detail=f"the request body is {shown}; send {CONTENT_TYPE}")
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        raise InvalidSyntaxException(detail="the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidSyntaxException(detail="the request body must be a JSON object")
    return data


def _validate(model: Any, data: dict[str, Any], ctx: Context) -> Any:
    try:
        return model.model_validate(data, scim_ctx=ctx)
    except ValidationError as exc:
        raise SCIMException.from_error(Error.from_validation_errors(exc)[0]) from None


def _etag_check(request: HttpRequest, version: str | None) -> None:
    wanted = request.headers.get("If-Match")
    if wanted and wanted.strip() != "*" and version not in [v.strip() for v in wanted.split(",")]:
        raise PreconditionFailedException(
            detail=f"the resource changed: its version is {version}, the request was for {wanted}"
        )


def _int(value: str | None, name: str, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidValueException(detail=f"{name} must be an integer, not {value!r}") from None


def _dump(
    resource: Any, params: ResponseParameters | None, ctx: Context = Context.RESOURCE_QUERY_RESPONSE
) -> dict:
    return resource.model_dump(scim_ctx=ctx, response_parameters=params)


def _response_parameters(model: Any, data: dict[str, Any]) -> ResponseParameters:
    picked = {k: data[k] for k in ("attributes", "excludedAttributes") if data.get(k)}
    return _validate(ResponseParameters[model], picked, Context.DEFAULT)


def _one(resource: Any, params: ResponseParameters | None, status: int = 200, **extra: str) -> HttpResponse:
    headers = {"ETag": resource.meta.version, "Location": resource.meta.location, **extra}
    return respond(_dump(resource, params), status, headers)


# ---------------------------------------------------------------------------------------------- searches


def _search(access: Access, base: str, kinds: tuple[str, ...], query: dict[str, Any]) -> HttpResponse:
    """A list or /.search over Users and/or Groups: filter, startIndex/count pagination."""
    start = max(_int(query.get("startIndex"), "startIndex", 1), 1)
    count = min(max(_int(query.get("count"), "count", s.DEFAULT_COUNT), 0), s.MAX_COUNT)
    expression = query.get("filter")
    tree = filters.parse(expression) if expression else None
    models = tuple(s.UserResource if kind == "Users" else s.GroupResource for kind in kinds)
    params = _response_parameters(models[0] if len(models) == 1 else models[0] | models[1], query)
    found: list[Any] = []
    total = 0
    failures = []
    for kind in kinds:
        try:
            if kind == "Users":
                qs = resources.user_queryset(access)
                if tree is not None:
                    qs = qs.filter(filters.to_q(tree))
                qs = qs.order_by("pk")
                n = qs.count()
                offset = max(start - 1 - total, 0)
                want = max(count - len(found), 0)
                if want and offset < n:
                    found += resources.build_users(access.district, qs[offset : offset + want], base)
                total += n
            else:
                groups = resources.build_groups(access, base)
                if tree is not None:
                    matcher = _group_filter(expression)
                    groups = [g for g in groups if matcher.match(g)]
                offset = max(start - 1 - total, 0)
                want = max(count - len(found), 0)
                found += groups[offset : offset + want] if want else []
                total += len(groups)
        except SCIMException as exc:
            # RFC 7644 §3.4.2.1: over several types, an attribute one type lacks matches nothing there.
            if len(kinds) == 1:
                raise
            failures.append(exc)
    if failures and len(failures) == len(kinds):
        raise failures[0]
    body = {
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(found),
        "Resources": [_dump(r, params) for r in found],
    }
    return respond(body)


def _group_filter(expression: str) -> Any:
    from scim2_models import ScimFilter

    try:
        return ScimFilter[s.GroupResource](expression)
    except ValidationError as exc:
        raise SCIMException.from_error(Error.from_validation_errors(exc)[0]) from None


# ---------------------------------------------------------------------------------------------- endpoints


def _discovery(access: Access, base: str, parts: list[str], method: str) -> HttpResponse:
    if method != "GET":
        raise MethodNotAllowed(READ, detail=f"{method} is not allowed on /{parts[0]}: discovery is read-only")
    if parts[0] == "ServiceProviderConfig" and len(parts) == 1:
        config = s.service_provider_config()
        return respond(config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    items = s.resource_types() if parts[0] == "ResourceTypes" else s.schemas()
    dumped = {
        str(item.id): {
            **item.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE),
            "meta": {"resourceType": parts[0][:-1], "location": f"{base}/{parts[0]}/{item.id}"},
        }
        for item in items
    }
    if len(parts) == 1:
        rows = list(dumped.values())
        return respond(
            {"schemas": [LIST_SCHEMA], "totalResults": len(rows), "startIndex": 1, "itemsPerPage": len(rows),
             "Resources": rows}
        )  # fmt: skip
    if len(parts) == 2 and parts[1] in dumped:
        return respond(dumped[parts[1]])
    raise NotFoundException(detail=f"no {parts[0][:-1]} {'/'.join(parts[1:])!r}")


def _users(request: HttpRequest, access: Access, base: str, parts: list[str]) -> HttpResponse:
    method = request.method
    actor = f"scim:{request.headers.get('Authorization', '').split(' ')[-1][:10]}"
    if len(parts) == 1:
        if method == "GET":
            _require(access, roles.VIEW_ACCOUNTS)
            return _search(access, base, ("Users",), request.GET.dict())
        if method == "POST":
            _require(access, roles.ACT_ACCOUNTS)
            wanted = _validate(s.UserResource, _body(request), Context.RESOURCE_CREATION_REQUEST)
            account = resources.create_user(access, wanted, actor)
            user = resources.get_user(access, str(account.pk), base)
            return _one(user, None, 201)
        raise MethodNotAllowed(USERS, detail=f"{method} is not allowed on /Users")
    if parts[1] == ".search" and len(parts) == 2:
        if method != "POST":
            raise MethodNotAllowed(SEARCH, detail="/Users/.search takes POST")
        _require(access, roles.VIEW_ACCOUNTS)
        return _search(access, base, ("Users",), _search_body(request))
    if len(parts) != 2:
        raise NotFoundException(detail=f"no such path /{'/'.join(parts)}")
    params = _response_parameters(s.UserResource, request.GET.dict())
    if method == "GET":
        _require(access, roles.VIEW_ACCOUNTS)
        user = resources.get_user(access, parts[1], base)
        if request.headers.get("If-None-Match") == user.meta.version:
            return respond(None, 304, {"ETag": user.meta.version})
        return _one(user, params)
    if method not in ("PUT", "PATCH", "DELETE"):
        raise MethodNotAllowed(USER, detail=f"{method} is not allowed on a User")
    _require(access, roles.ACT_ACCOUNTS)
    with transaction.atomic():
        account = resources.get_account(access, parts[1])
        current = resources.build_users(access.district, [account], base)[0]
        _etag_check(request, current.meta.version)
        if method == "DELETE":
            resources.delete_user(account, actor)
            return respond(None, 204)
        if method == "PUT":
            wanted = _validate(s.UserResource, _body(request), Context.RESOURCE_REPLACEMENT_REQUEST)
            wanted.replace(current)  # immutable userName checked, read-only attributes kept
        else:
            patch = _validate(PatchOp[s.UserResource], _body(request), Context.RESOURCE_PATCH_REQUEST)
            wanted = current.model_copy(deep=True)
            patch.patch(wanted)
        resources.apply_user(account, wanted, actor)
    return _one(resources.get_user(access, parts[1], base), params)


def _search_body(request: HttpRequest) -> dict[str, Any]:
    data = _body(request)
    _validate(SearchRequest, data, Context.SEARCH_REQUEST)  # refuses a malformed search with its error
    query = {k: data[k] for k in ("filter", "startIndex", "count") if data.get(k) is not None}
    for key in ("attributes", "excludedAttributes"):
        if data.get(key):
            query[key] = ",".join(data[key]) if isinstance(data[key], list) else data[key]
    return query


def _groups(request: HttpRequest, access: Access, base: str, parts: list[str]) -> HttpResponse:
    method = request.method
    if len(parts) > 2:
        raise NotFoundException(detail=f"no such path /{'/'.join(parts)}")
    if len(parts) == 2 and parts[1] == ".search":
        if method != "POST":
            raise MethodNotAllowed(SEARCH, detail="/Groups/.search takes POST")
        _require(access, roles.VIEW_ACCOUNTS)
        return _search(access, base, ("Groups",), _search_body(request))
    if method != "GET":
        raise MethodNotAllowed(
            READ, detail="Groups are read-only: schools and kinds of person come from the SIS"
        )
    _require(access, roles.VIEW_ACCOUNTS)
    if len(parts) == 1:
        return _search(access, base, ("Groups",), request.GET.dict())
    group = resources.get_group(access, parts[1], base)
    return _one(group, _response_parameters(s.GroupResource, request.GET.dict()))


def _route(request: HttpRequest, access: Access, base: str, parts: list[str]) -> HttpResponse:
    if parts and parts[0] in DISCOVERY:
        return _discovery(access, base, parts, request.method or "GET")
    if parts and parts[0] == "Users":
        return _users(request, access, base, parts)
    if parts and parts[0] == "Groups":
        return _groups(request, access, base, parts)
    if parts == [".search"]:
        if request.method != "POST":
            raise MethodNotAllowed(SEARCH, detail="/.search takes POST")
        _require(access, roles.VIEW_ACCOUNTS)
        return _search(access, base, ("Users", "Groups"), _search_body(request))
    raise NotFoundException(detail=f"no SCIM endpoint /{'/'.join(parts)}")


@csrf_exempt
def endpoint(request: HttpRequest, slug: str, rest: str = "") -> HttpResponse:
    """Every SCIM request of a district."""
    try:
        access = _authenticate(request, slug)
        base = request.build_absolute_uri(f"/scim/v2/{slug}").rstrip("/")
        parts = [p for p in rest.split("/") if p]
        return _route(request, access, base, parts)
    except MethodNotAllowed as exc:
        return error_response(exc, {"Allow": ", ".join(exc.allowed)})
    except UnauthorizedException as exc:
        return error_response(exc, {"WWW-Authenticate": 'Bearer realm="SCIM"'})
    except SCIMException as exc:
        return error_response(exc)
    except ValidationError as exc:
        return error_response(SCIMException.from_error(Error.from_validation_errors(exc)[0]))
    except RequestDataTooBig:
        return error_response(
            TooLarge(detail=f"the request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes")
        )
    except Exception:
        # A bug, not the client's error: the operator gets the traceback; the client a SCIM Error it can read
        # (not Django's HTML page) without internals.
        logger.exception("SCIM error on %s %s", request.method, request.path)
        return error_response(ServerError())
