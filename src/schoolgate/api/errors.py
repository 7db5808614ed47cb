"""One shape for every error the API returns: `{"error": {"code", "message", "detail"}}`.

Each handler below turns one kind of failure into that shape, so a client reads 400, 401, 403, 404, 405, 409,
413, 415, 422 and 500 the same way. Messages name the field and the value that is wrong; bad input changes
nothing, because every endpoint validates before it calls a domain function (and domain functions are atomic).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError

from schoolgate.accounts.actions import UnknownPeople
from schoolgate.accounts.doctor import FixRejected
from schoolgate.accounts.doctor.diagnose import UnknownSubject
from schoolgate.accounts.lifecycle import IllegalTransition
from schoolgate.accounts.overrides import OverrideRejected
from schoolgate.accounts.person_view import UnknownPerson
from schoolgate.accounts.queries import InvalidFilter
from schoolgate.accounts.transfer import TransferRejected
from schoolgate.accounts.usernames import InvalidUsername
from schoolgate.core.refusals import CONFLICT, INVALID, MISSING, Refused

logger = logging.getLogger("schoolgate.api")

# Every status an operation may answer with besides its success; each operation documents all of them.
ERROR_STATUSES = frozenset({400, 401, 403, 404, 405, 409, 413, 415, 422, 500})


class ErrorBody(Schema):
    code: str
    message: str
    detail: dict[str, Any] = {}


class ErrorOut(Schema):
    error: ErrorBody


class ApiError(Exception):
    """An error with its HTTP status, machine code, message and detail, raised anywhere in the API."""

    def __init__(self, status: int, code: str, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.detail = status, code, message, detail or {}


def not_found(what: str, value: object) -> ApiError:
    """The one 404 for anything absent *or in another district*: the two must be indistinguishable."""
    return ApiError(
        404, "not_found", f"no {what} {value!r} in this district", {what.replace(" ", "_"): value}
    )


def body(code: str, message: str, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "detail": detail or {}}}


def json_error(status: int, code: str, message: str, detail: dict[str, Any] | None = None) -> JsonResponse:
    """An error response outside ninja's handlers (unknown paths, wrong methods)."""
    return JsonResponse(body(code, message, detail), status=status, json_dumps_params={"ensure_ascii": False})


def _where(loc: list | tuple) -> tuple[str, str]:
    """(location, field) of a pydantic error: ("query", "limit"), ("body", "codes.3"), …"""
    parts = [str(p) for p in loc]
    place = parts[0] if parts else "request"
    if place == "file":  # ninja's name for an uploaded file's place; the client sent a multipart form
        place = "form"
    # ninja nests body fields under the parameter name ("payload"); the client never sees that name.
    rest = parts[2:] if place == "body" and len(parts) > 2 else parts[1:]
    return place, ".".join(rest) or place


def _validation_message(
    request: HttpRequest, errors: list[dict[str, Any]]
) -> tuple[str, list[dict[str, Any]]]:
    shown = []
    for error in errors:
        place, field = _where(error.get("loc", ()))
        item = {"location": place, "field": field, "message": error.get("msg", "invalid")}
        # The value as sent, for query and path parameters (a body's values the client has in hand).
        sent = request.GET.get(field) if place == "query" else None
        if place == "path" and request.resolver_match:
            sent = request.resolver_match.kwargs.get(field)
        if sent is not None:
            item["value"] = sent
        shown.append(item)
    first = shown[0] if shown else {"location": "request", "field": "request", "message": "invalid"}
    value = f" (got {first['value']!r})" if "value" in first else ""
    message = f"{first['field']} in {first['location']}: {first['message']}{value}"
    if len(shown) > 1:
        message += f"; and {len(shown) - 1} more problem(s), listed in detail.errors"
    return message, shown


# A `Refused` (core.refusals) says which kind of refusal it is; its status follows from that.
STATUS_OF_KIND = {INVALID: 422, MISSING: 404, CONFLICT: 409}

# Domain refusals: (exception, status, code). A conflict (409) is a legal request the data's state refuses;
# a lookup failure is 404 — an unknown code looks exactly like another district's code. None: a `Refused`,
# whose status is that of its kind.
DOMAIN_ERRORS: list[tuple[type[Exception], int | None, str]] = [
    (IllegalTransition, 409, "illegal_transition"),
    (TransferRejected, None, "transfer_rejected"),
    (FixRejected, None, "fix_rejected"),
    (OverrideRejected, None, "override_rejected"),
    (InvalidUsername, 422, "invalid_username"),
    (InvalidFilter, 400, "invalid_filter"),
    (UnknownPerson, 404, "not_found"),
    (UnknownSubject, 404, "not_found"),
]


def install(api: NinjaAPI) -> None:
    """Register every handler on the API."""

    def respond(
        request: HttpRequest, status: int, code: str, message: str, detail: dict | None = None
    ) -> HttpResponse:
        response = api.create_response(request, body(code, message, detail), status=status)
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="schoolgate"'
        return response

    def handler(exc_type: type[Exception]) -> Callable:
        return api.exception_handler(exc_type)

    @handler(ApiError)
    def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return respond(request, exc.status, exc.code, exc.message, exc.detail)

    @handler(ValidationError)
    def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        message, errors = _validation_message(request, list(exc.errors))
        return respond(request, 422, "invalid_input", message, {"errors": errors})

    @handler(AuthenticationError)
    def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return respond(request, 401, "unauthenticated",
                       "send a valid API token: 'Authorization: Bearer sg_…' (unknown, revoked or missing)")  # fmt: skip

    @handler(AuthorizationError)
    def _forbidden(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
        return respond(request, 403, "forbidden", str(exc.message))

    @handler(PermissionDenied)
    def _denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return respond(request, 403, "forbidden", str(exc) or "this token's level does not allow this")

    @handler(Http404)
    def _missing(request: HttpRequest, exc: Http404) -> HttpResponse:
        return respond(request, 404, "not_found", str(exc) or "not found")

    @handler(HttpError)
    def _http(request: HttpRequest, exc: HttpError) -> HttpResponse:
        code = {400: "bad_request", 405: "method_not_allowed", 429: "throttled"}.get(exc.status_code, "error")
        return respond(request, exc.status_code, code, str(exc.message))

    @handler(RequestDataTooBig)
    def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return respond(request, 413, "payload_too_large", f"the request body is larger than {limit} bytes",
                       {"limit": limit})  # fmt: skip

    @handler(UnknownPeople)
    def _unknown_people(request: HttpRequest, exc: UnknownPeople) -> HttpResponse:
        return respond(request, 404, "not_found", str(exc), {"codes": exc.codes})

    for exc_type, status, code in DOMAIN_ERRORS:

        def domain(
            request: HttpRequest, exc: Exception, status: int | None = status, code: str = code
        ) -> HttpResponse:
            if status is None:
                status = STATUS_OF_KIND[cast(Refused, exc).kind]
            return respond(request, status, code, str(exc))

        api.add_exception_handler(exc_type, domain)

    @handler(Exception)
    def _crash(request: HttpRequest, exc: Exception) -> HttpResponse:
        # Logged with its traceback for the operator; the client gets no internals.
        logger.exception("API error on %s %s", request.method, request.path)
        return respond(request, 500, "server_error", "the server failed to answer; the error has been logged")
