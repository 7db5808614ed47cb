"""Shared fixtures: a district with the default rules, and `cli`, which runs a `schoolgate` command
in-process exactly as the console script does (argument parsing, exit codes, stdout)."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.management import ManagementUtility

from tests.factories import make_district


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(*args: str) -> CliResult:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            ManagementUtility(["schoolgate", *[str(a) for a in args]]).execute()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli(db):
    return run_cli


@pytest.fixture
def district(db):
    return make_district()
