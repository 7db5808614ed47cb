"""`schoolgate username SLUG CODE NEW`: set a login's username (refused if anyone in the district holds it,
ignoring case and Unicode look-alikes)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from schoolgate.accounts.username_policy import change_username
from schoolgate.accounts.usernames import InvalidUsername
from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand


class Command(SchoolgateCommand):
    help = "Change the username of a person's login."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("code", help="the person's SIS code")
        parser.add_argument("username", help="the new username")

    def run(self, **options: Any) -> tuple[dict, Any]:
        district = self.district(options["slug"])
        try:
            account = change_username(district, options["code"], options["username"], actor=audit.cli_actor())
        except InvalidUsername as exc:
            raise InputRejected(str(exc)) from None
        return {
            "account": {"person": options["code"], "username": account.username, "state": account.state}
        }, self.render

    def render(self, doc: dict) -> None:
        a = doc["account"]
        self.stdout.write(f"{a['person']} now logs in as {a['username']} ({a['state']}).")
