"""The API's operations, read from its generated OpenAPI schema, and requests built for them from real objects.

The generated access tests walk these, so that a new operation is covered the moment it exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from schoolgate.api.main import api


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # /api/v1/people/{code}
    permission: str | None
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    body: dict[str, Any] | None  # the JSON schema of a JSON body, or None
    multipart: bool

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    for option in node.get("anyOf", []):  # an optional body: anyOf [ref, null]
        if "$ref" in option:
            node = option
    if "$ref" in node:
        return schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def operations() -> list[Operation]:
    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    found = []
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            content = op.get("requestBody", {}).get("content", {})
            body = (
                _resolve(schema, content["application/json"]["schema"])
                if "application/json" in content
                else None
            )
            permission = op.get("x-permission")
            found.append(Operation(
                method=method.upper(), path=path, permission=None if permission == "any" else permission,
                path_params=tuple(p["name"] for p in op.get("parameters", []) if p["in"] == "path"),
                query_params=tuple(p["name"] for p in op.get("parameters", []) if p["in"] == "query"),
                body=body, multipart="multipart/form-data" in content,
            ))  # fmt: skip
    return found


# Query parameters and body fields that name a person (by SIS code).
NAMES_PEOPLE = {"code", "codes", "to", "contact", "student", "person"}
FIXED_VALUES = {"field": "portal", "value": True, "reason": "test", "finding": "never_activated"}


def url(op: Operation, objects: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(objects[m.group(1)]), op.path)


def request_for(op: Operation, objects: dict[str, Any], zip_bytes: bytes = b"") -> dict[str, Any]:
    """Keyword arguments for Django's test client: the path filled in, people-naming query parameters and
    every body field filled from `objects` (the people of one district)."""
    kwargs: dict[str, Any] = {"path": url(op, objects)}
    query = {name: objects[name] for name in op.query_params if name in NAMES_PEOPLE - {"code"}}
    if query:
        kwargs["query"] = query
    if op.body is not None:
        kwargs["json"] = {name: objects.get(name, FIXED_VALUES.get(name)) for name in op.body.get("properties", {})
                          if name in objects or name in FIXED_VALUES}  # fmt: skip
    if op.multipart:
        kwargs["data"] = {"file": SimpleUploadedFile("sis.zip", zip_bytes, content_type="application/zip")}
    return kwargs


def names_people(op: Operation) -> bool:
    """Does the request name an object of a district (in its path, query or body)?"""
    body = set((op.body or {}).get("properties", {}))
    return (
        bool(op.path_params)
        or bool(set(op.query_params) & NAMES_PEOPLE - {"code"})
        or bool(body & NAMES_PEOPLE)
    )
