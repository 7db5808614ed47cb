"""What every `schoolgate` command shares: `--json`, the exit-code contract, and readable errors.

Exit codes: 0 ok, 1 input rejected, 2 usage (argparse), 3 held for confirmation. With `--json` a command
prints exactly one JSON document on stdout, also when it rejects its input (`{"error": …}`); messages for
people go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection

from schoolgate.core.models import District
from schoolgate.core.scoping import UnknownDistrict, get_district

EXIT_REJECTED = 1
EXIT_HELD = 3


class InputRejected(Exception):
    """The command's input cannot be acted on; nothing was changed."""

    def __init__(self, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.detail = detail or {}


def json_flag(parser: argparse.ArgumentParser) -> None:
    """`--json` on a sub-command. Absent there, it leaves the command's own `--json` as it was, so that
    `district --json list` and `district list --json` both print JSON (a sub-command's default False used to
    overwrite a `--json` given before it)."""
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON document on stdout"
    )


class _Parser(CommandParser):
    """Usage errors say so in JSON too when `--json` was asked for: a script reading stdout gets its one
    document (`{"error": …, "usage": true}`) as well as the usage on stderr and exit code 2."""

    json_asked = False

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if "--json" in (sys.argv[1:] if args is None else args):
            _each_parser(
                self, lambda parser: setattr(parser, "json_asked", True)
            )  # before or after a sub-command
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> None:  # type: ignore[override]
        if self.called_from_command_line and self.json_asked:
            sys.stdout.write(json.dumps({"error": message, "usage": True}, ensure_ascii=False) + "\n")
        super().error(message)


def _each_parser(parser: argparse.ArgumentParser, do: Callable[[argparse.ArgumentParser], None]) -> None:
    """`do` to `parser` and to its sub-commands' parsers, all the way down."""
    do(parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _each_parser(sub, do)


def _as_json_parser(parser: argparse.ArgumentParser) -> None:
    # Django builds every parser as a CommandParser, sub-commands' too; the class is swapped after.
    if type(parser) is CommandParser:
        parser.__class__ = _Parser


class SchoolgateCommand(BaseCommand):
    """Base for Schoolgate commands: subclasses implement `run(**options)` and return (document, renderer)."""

    requires_system_checks: list = []

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        _each_parser(parser, _as_json_parser)
        parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        return parser

    def handle(self, *args: Any, **options: Any) -> None:
        as_json = options["json"]
        try:
            try:
                document, render = self.run(**options)
            except DatabaseError:
                _check_migrated()
                raise
        except (InputRejected, UnknownDistrict) as exc:
            detail = getattr(exc, "detail", {})
            if as_json:
                self.stdout.write(json.dumps({"error": str(exc), **detail}, ensure_ascii=False))
            raise CommandError(str(exc), returncode=EXIT_REJECTED) from None
        if as_json:
            self.stdout.write(json.dumps(document, ensure_ascii=False, default=str))
        else:
            render(document)
        self.after_output(document)

    def run(self, **options: Any) -> tuple[dict[str, Any], Callable[[dict[str, Any]], None]]:
        raise NotImplementedError

    def after_output(self, document: dict[str, Any]) -> None:
        """Hook for commands whose exit code depends on the outcome (e.g. a held sync exits 3)."""

    def district(self, slug: str) -> District:
        return get_district(slug)

    def console(self) -> Any:
        from rich.console import Console

        return Console(file=self.stdout._out, soft_wrap=True)

    def progress_console(self) -> Any:
        from rich.console import Console

        return Console(file=self.stderr._out)


def _check_migrated() -> None:
    """After a database error: an empty database (a command run before `migrate`, or from another folder, whose
    var/ holds a new SQLite file) is said plainly instead of as a traceback about a missing table."""
    if District._meta.db_table not in connection.introspection.table_names():
        where = connection.settings_dict.get("NAME")
        raise InputRejected(
            f"the database ({where}) has no Schoolgate tables: run `schoolgate migrate` first, or point "
            "SCHOOLGATE_DATABASE_URL / SCHOOLGATE_VAR_DIR at the database you meant",
            {"database": str(where)},
        )
