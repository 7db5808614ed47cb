"""`schoolgate matches SLUG [--all]`: successor evidence found by syncs — strong matches (acted on) and weak
ones (suggestions to confirm with `schoolgate transfer`)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from schoolgate.core.cli import SchoolgateCommand
from schoolgate.people.models import IdentityMatch


class Command(SchoolgateCommand):
    help = "List people records that look like the same human as an older record (successors)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--all", action="store_true", help="include matches already transferred")

    def run(self, **options: Any) -> tuple[dict, Any]:
        qs = IdentityMatch.objects.filter(district=self.district(options["slug"])).select_related(
            "old", "new"
        )
        if not options["all"]:
            qs = qs.filter(transferred_at__isnull=True)
        rows = [
            {"old": m.old.sis_code, "new": m.new.sis_code, "strength": m.strength, "score": m.score,
             "reasons": m.reasons, "transferred": m.transferred_at is not None}
            for m in qs.order_by("-score", "old__sis_code")
        ]  # fmt: skip
        return {"matches": rows}, self.render

    def render(self, doc: dict) -> None:
        for m in doc["matches"]:
            self.stdout.write(
                f"{m['old']} → {m['new']}: {m['strength']} ({m['score']:.2f}: {', '.join(m['reasons'])})"
            )
        if not doc["matches"]:
            self.stdout.write("No successor matches.")
