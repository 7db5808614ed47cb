"""`schoolgate accounts SLUG [--state S] [--kind K] [--reason R]`: list accounts and their lifecycle state."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from schoolgate.accounts.models import AccountState, RevokeReason
from schoolgate.accounts.queries import InvalidFilter, list_accounts
from schoolgate.core.cli import InputRejected, SchoolgateCommand
from schoolgate.people.models import PersonKind


class Command(SchoolgateCommand):
    help = "List a district's accounts with their state, reason and the students each contact may see."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the district")
        parser.add_argument("--state", choices=AccountState.values)
        parser.add_argument("--kind", choices=PersonKind.values)
        parser.add_argument("--reason", choices=RevokeReason.values)

    def run(self, **options: Any) -> tuple[dict, Any]:
        district = self.district(options["slug"])
        try:
            rows = [
                row.as_dict()
                for row in list_accounts(
                    district, state=options["state"], kind=options["kind"], reason=options["reason"]
                )
            ]
        except InvalidFilter as exc:
            raise InputRejected(str(exc)) from None
        return {"total": len(rows), "accounts": rows}, self.render

    def render(self, doc: dict) -> None:
        from rich.table import Table

        table = Table(title=f"{doc['total']} account(s)")
        for column in ("person", "kind", "state", "reason", "username", "students"):
            table.add_column(column)
        for row in doc["accounts"]:
            table.add_row(
                row["person"], row["kind"], row["state"], row["reason"] or "", row["username"] or "",
                ", ".join(row["students"]),
            )  # fmt: skip
        self.console().print(table)
