"""`schoolgate duplicates SLUG`: contact records that look like the same human entered twice."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from schoolgate.accounts.merge import find_duplicates
from schoolgate.core.cli import SchoolgateCommand


class Command(SchoolgateCommand):
    help = "List likely duplicate contact records, with the record to keep and the evidence."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")

    def run(self, **options: Any) -> tuple[dict, Any]:
        pairs = find_duplicates(self.district(options["slug"]))
        return {"pairs": [p.as_dict() for p in pairs]}, self.render

    def render(self, doc: dict) -> None:
        for p in doc["pairs"]:
            self.stdout.write(
                f"keep {p['keep']}, drop {p['drop']}: {p['score']:.2f} ({', '.join(p['reasons'])})"
                f" → schoolgate merge SLUG {p['keep']} {p['drop']}"
            )
        if not doc["pairs"]:
            self.stdout.write("No likely duplicates.")
