"""The shape shared by `schoolgate provision` and `schoolgate revoke`: act on named people or on everyone in
the ready state, report a result per person; unknown codes reject the whole request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandParser

from schoolgate.accounts.actions import ActionResult, UnknownPeople
from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand


class BulkActionCommand(SchoolgateCommand):
    """Subclasses set `all_flag` (e.g. "--all"), `past` (e.g. "provisioned") and `action`."""

    all_flag: str
    past: str
    action: Callable[..., ActionResult]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the district")
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument(self.all_flag, action="store_true", dest="all_ready")
        group.add_argument("codes", nargs="*", default=[], metavar="CODE", help="SIS codes of the people")

    def run(self, **options: Any) -> tuple[dict, Any]:
        district = self.district(options["slug"])
        try:
            result = type(self).action(
                district, codes=options["codes"], all_ready=options["all_ready"], actor=audit.cli_actor()
            )
        except UnknownPeople as exc:
            raise InputRejected(str(exc), {"unknown": exc.codes}) from None
        return result.as_dict(self.past), self.render

    def render(self, doc: dict) -> None:
        for row in doc["results"]:
            detail = f" ({row['detail']})" if "detail" in row else ""
            self.stdout.write(f"{row['person']}: {row['result']}{detail}")
        counts = doc["counts"]
        self.stdout.write(f"{self.past}: {counts[self.past]}, skipped: {counts['skipped']}")
