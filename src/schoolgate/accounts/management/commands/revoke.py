"""`schoolgate revoke SLUG (--all-ready | CODE …)`: Revoke logins: of the given people, or with --all-ready of every account ready_to_revoke."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from schoolgate.accounts.actions import UnknownPeople, revoke_accounts
from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand


class Command(SchoolgateCommand):
    help = "Revoke logins: of the given people, or with --all-ready of every account ready_to_revoke."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the district")
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--all-ready", action="store_true", dest="all_ready")
        group.add_argument("codes", nargs="*", default=[], metavar="CODE", help="SIS codes of the people")

    def run(self, **options: Any) -> tuple[dict, Any]:
        district = self.district(options["slug"])
        try:
            result = revoke_accounts(
                district, codes=options["codes"], all_ready=options["all_ready"], actor=audit.cli_actor()
            )
        except UnknownPeople as exc:
            raise InputRejected(str(exc), {"unknown": exc.codes}) from None
        return result.as_dict("revoked"), self.render

    def render(self, doc: dict) -> None:
        for row in doc["results"]:
            detail = f" ({row['detail']})" if "detail" in row else ""
            self.stdout.write(f"{row['person']}: {row['result']}{detail}")
        counts = doc["counts"]
        self.stdout.write(f"revoked: {counts['revoked']}, skipped: {counts['skipped']}")
