"""Fixtures for the integration tests: a reference SCIM service (scim2-server) and a scripted HTTP server,
both real servers on loopback, and a small district with parents to provision."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.builders import write_oneroster
from tests.integrations.reference_server import ReferenceScimServer
from tests.sync.conftest import database  # noqa: F401  (the separate-process database fixture)

TOKEN = "downstream-token-123"
ORGS = [{"sourcedId": "north", "type": "school"}]


def family_rows(n: int) -> list[dict]:
    """n students, each with one parent."""
    rows = []
    for i in range(n):
        rows += [
            {"sourcedId": f"k{i}", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": f"p{i}",
             "givenName": f"Kid{i}", "familyName": f"Family{i}"},
            {"sourcedId": f"p{i}", "role": "parent", "orgSourcedIds": "north", "givenName": f"Parent{i}",
             "familyName": f"Family{i}", "email": f"p{i}@example.org"},
        ]  # fmt: skip
    return rows


def sync_families(cli, district, tmp_path, n: int) -> None:
    result = cli(
        "sync", district.slug, write_oneroster(tmp_path / "sis", users=family_rows(n), orgs=ORGS), "--json"
    )
    assert result.code == 0, result.stderr


@pytest.fixture
def scim_server() -> Iterator[ReferenceScimServer]:
    with ReferenceScimServer(token=TOKEN) as server:
        yield server


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedServer:
    """Answers each request with the next scripted status (then `default`), and keeps what it received."""

    script: list[int] = field(default_factory=list)
    default: int = 200
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def answer(self, request: Received) -> tuple[int, bytes]:
        self.received.append(request)
        status = self.script.pop(0) if self.script else self.default
        if request.method == "POST" and request.path.endswith("/Users") and status == 201:
            return status, json.dumps({"id": f"u{len(self.received)}"}).encode()
        return status, b"{}"


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    state = ScriptedServer()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Received(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
            with lock:
                status, body = state.answer(request)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = _handle

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()
