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


@pytest.fixture
def cli(db):
    return run_cli


@pytest.fixture
def district(db):
    from tests.factories import make_district  # imported here so Django-free tests can load this conftest

    return make_district()
