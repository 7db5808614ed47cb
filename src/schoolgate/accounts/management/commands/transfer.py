"""`schoolgate transfer SLUG OLD NEW`: carry a login (username, password, per-student overrides) over to the
record that succeeds it, in one audited transaction."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from schoolgate.accounts.transfer import TransferRejected, transfer_login
from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand


class Command(SchoolgateCommand):
    help = "Move a login from an old person record to its successor (contact-code change, family split)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("old", help="SIS code of the record whose login moves")
        parser.add_argument("new", help="SIS code of the record that takes it over")
        parser.add_argument(
            "--same-person",
            action="store_true",
            help="they are one person: needed when OLD's login is still in use and no sync matched the two",
        )

    def run(self, **options: Any) -> tuple[dict, Any]:
        district = self.district(options["slug"])
        try:
            result = transfer_login(
                district,
                options["old"],
                options["new"],
                actor=audit.cli_actor(),
                same_person=options["same_person"],
            )
        except TransferRejected as exc:
            raise InputRejected(str(exc)) from None
        return {"transferred": result.as_dict()}, self.render

    def render(self, doc: dict) -> None:
        t = doc["transferred"]
        self.stdout.write(
            f"Login {t['username'] or '(not yet chosen)'} moved from {t['from']} to {t['to']} ({t['state']})."
        )
