"""`schoolgate openapi [--check]`: write the REST API's OpenAPI schema to openapi.yaml, or check it is current."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from schoolgate.api.schema_file import SCHEMA_FILE, is_current, render
from schoolgate.core.cli import InputRejected, SchoolgateCommand


class Command(SchoolgateCommand):
    help = "Write the REST API's OpenAPI schema (openapi.yaml), or with --check exit 1 when it is stale."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="change nothing; exit 1 if the file is stale"
        )
        parser.add_argument("--output", type=Path, default=SCHEMA_FILE, help="where the schema is written")

    def run(self, **options: Any) -> tuple[dict[str, Any], Any]:
        path: Path = options["output"]
        if options["check"]:
            if not is_current(path):
                raise InputRejected(
                    f"{path} is stale: run `schoolgate openapi` and commit it", {"path": str(path)}
                )
            return {"path": str(path), "current": True}, lambda doc: self.stdout.write(
                f"{doc['path']} is current"
            )
        path.write_text(render(), encoding="utf-8")
        return {"path": str(path), "written": True}, lambda doc: self.stdout.write(f"wrote {doc['path']}")
