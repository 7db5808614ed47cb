"""A reference downstream SCIM service for tests, benchmarks and demos: scim2-server (an independent
implementation of RFC 7643/7644) in memory, on loopback, with Schoolgate's User extension registered.

    with ReferenceScimServer(token="secret") as server:
        server.base_url              # http://127.0.0.1:PORT/v2
        server.users()               # every user it holds (JSON dicts)

Nothing in the push client depends on this module; it only stands in for the real downstream services.
"""

from __future__ import annotations

import threading
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx
from scim2_models import ResourceType, Schema, ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BearerTokenApplication
from scim2_server.testserver.cli import ThreadingWSGIServer
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

from schoolgate.integrations.payload import EXTENSION, extension_schema


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged: a benchmark makes thousands."""


def provider() -> ScimProvider:
    """RFC 7643's schemas and resource types, with the Schoolgate extension on User."""
    schemas = [*load_default_schemas().values(), Schema.model_validate(extension_schema())]
    types = []
    for resource_type in load_default_resource_types().values():
        if resource_type.id == "User":
            data = resource_type.model_dump()
            data["schemaExtensions"] = [
                *data.get("schemaExtensions", []),
                {"schema": EXTENSION, "required": False},
            ]
            resource_type = ResourceType.model_validate(data)
        types.append(resource_type)
    return ScimProvider.from_discovery(schemas, types, config=load_default_service_provider_config())


class ReferenceScimServer:
    """scim2-server on 127.0.0.1 and a free port, served by threads, until `stop()`."""

    def __init__(self, token: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token
        scim = provider()
        self.storage = InMemoryStorage()
        app = BearerTokenApplication(
            self.storage,
            scim,
            service=ScimService(scim, secret="reference"),  # the secret signs its own cursors only
            bearer_tokens=[token],  # the push client must present the target's token
        )
        self._server = make_server(
            host, port, app, server_class=ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="scim-downstream", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v2"

    def start(self) -> ReferenceScimServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ReferenceScimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Reads go over HTTP, like any client's, so a test sees what downstream really serves.
    def users(self) -> list[dict[str, Any]]:
        """Every user the server holds."""
        found: list[dict[str, Any]] = []
        start = 1
        with httpx.Client(headers={"Authorization": f"Bearer {self.token}"}) as client:
            while True:
                page = client.get(f"{self.base_url}/Users", params={"startIndex": start, "count": 500}).json()
                resources = page.get("Resources") or []
                found.extend(resources)
                start += len(resources)
                if not resources or start > int(page.get("totalResults", 0)):
                    return found

    def user(self, external_id: str) -> dict[str, Any] | None:
        """The user with this externalId (SIS code), or None."""
        response = httpx.get(
            f"{self.base_url}/Users",
            params={"filter": f'externalId eq "{external_id}"'},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        response.raise_for_status()
        resources = response.json().get("Resources") or []
        return resources[0] if resources else None
