"""`schoolgate merge SLUG KEEP DROP`: make one contact record of two (links, overrides and login move to KEEP;
DROP stays as history and its SIS code as an alias)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from schoolgate.accounts.merge import MergeRejected, merge_contacts
from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand


class Command(SchoolgateCommand):
    help = "Merge a duplicate contact record into the one to keep."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("keep", help="SIS code of the record to keep")
        parser.add_argument("drop", help="SIS code of the duplicate record")

    def run(self, **options: Any) -> tuple[dict, Any]:
        try:
            result = merge_contacts(
                self.district(options["slug"]), options["keep"], options["drop"], actor=audit.cli_actor()
            )
        except MergeRejected as exc:
            raise InputRejected(str(exc)) from None
        return {"merged": result}, self.render

    def render(self, doc: dict) -> None:
        m = doc["merged"]
        self.stdout.write(
            f"Merged {m['drop']} into {m['keep']}: students moved {', '.join(m['students_moved']) or 'none'}."
        )
