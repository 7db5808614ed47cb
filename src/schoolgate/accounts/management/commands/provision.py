"""`schoolgate provision SLUG (--all | CODE …)`: Send welcome invitations: to the given people, or with --all to everyone ready_to_provision."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from schoolgate.accounts.actions import UnknownPeople, provision_accounts
from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand


class Command(SchoolgateCommand):
    help = "Send welcome invitations: to the given people, or with --all to everyone ready_to_provision."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the district")
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--all", action="store_true", dest="all")
        group.add_argument("codes", nargs="*", default=[], metavar="CODE", help="SIS codes of the people")

    def run(self, **options: Any) -> tuple[dict, Any]:
        district = self.district(options["slug"])
        try:
            result = provision_accounts(
                district, codes=options["codes"], all_ready=options["all"], actor=audit.cli_actor()
            )
        except UnknownPeople as exc:
            raise InputRejected(str(exc), {"unknown": exc.codes}) from None
        return result.as_dict("provisioned"), self.render

    def render(self, doc: dict) -> None:
        for row in doc["results"]:
            detail = f" ({row['detail']})" if "detail" in row else ""
            self.stdout.write(f"{row['person']}: {row['result']}{detail}")
        counts = doc["counts"]
        self.stdout.write(f"provisioned: {counts['provisioned']}, skipped: {counts['skipped']}")
