"""Shared fixtures: a district with the default rules, and `cli`, which runs a `schoolgate` command
in-process exactly as the console script does (argument parsing, exit codes, stdout)."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.management import get_commands, load_command_class
from django.core.management.base import CommandError


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(*args: str) -> CliResult:
    """What `BaseCommand.run_from_argv` does (argparse with exit 2 on usage errors, CommandError → its
    return code), except closing every database connection afterwards, which would end the test's
    transaction on PostgreSQL."""
    name, *rest = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        command = load_command_class(get_commands()[name], name)
        command._called_from_command_line = True
        parser = command.create_parser("schoolgate", name)
        try:
            options = vars(parser.parse_args(rest))
            positional = options.pop("args", ())
            command.execute(*positional, **options)
        except CommandError as exc:
            err.write(f"{exc}\n")
            code = exc.returncode
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture(autouse=True)
def _static_files_without_collectstatic(settings):
    """Production serves hashed files collected once; tests serve the app folders as they are."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True


@pytest.fixture
def cli(db):
    return run_cli


@pytest.fixture
def district(db):
    from tests.factories import make_district  # imported here so Django-free tests can load this conftest

    return make_district()


class SmtpRecorder:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list = []
        self.connections = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        import email
        import email.policy

        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp_server(settings):
    """Start aiosmtpd on a free loopback port and point Schoolgate's mail at it."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    recorder = SmtpRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    settings.SCHOOLGATE_SMTP_URL = f"smtp://127.0.0.1:{port}"
    settings.SCHOOLGATE_BASE_URL = "http://testserver"
    try:
        yield recorder
    finally:
        controller.stop()
