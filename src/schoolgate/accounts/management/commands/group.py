"""`schoolgate group add|list`: account groups — audience, usernames, naming scheme, password policy.

schoolgate group add SLUG NAME --audience contact|student|staff [--school CODE]… [--grade G]…
    [--usernames chosen|sis|scheme] [--scheme "{first}.{last}"] [--max-length 30]
    [--passwords activation|generated] [--must-change on|off] [--min-length 10]
schoolgate group list SLUG
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.db import IntegrityError

from schoolgate.accounts.models import AccountGroup, PasswordMode, UsernameSource
from schoolgate.core.cli import InputRejected, SchoolgateCommand


def describe(group: AccountGroup) -> dict[str, Any]:
    return {
        "name": group.name, "audience": group.audience, "schools": group.school_codes, "grades": group.grades,
        "usernames": group.username_source, "scheme": group.naming_scheme, "max_length": group.username_max_length,
        "passwords": group.password_mode, "must_change": group.must_change_password,
        "min_length": group.min_password_length,
    }  # fmt: skip


class Command(SchoolgateCommand):
    help = "Define or list the account groups used to generate accounts."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="define a group")
        add.add_argument("slug")
        add.add_argument("name")
        add.add_argument("--audience", required=True, choices=["contact", "student", "staff"])
        add.add_argument("--school", action="append", default=[], help="limit to a school (repeatable)")
        add.add_argument("--grade", action="append", default=[], help="limit to a grade (repeatable)")
        add.add_argument("--usernames", choices=UsernameSource.values, default=UsernameSource.SCHEME)
        add.add_argument(
            "--scheme", default="{first}.{last}", help="naming scheme, e.g. {first:1}{last}{counter}"
        )
        add.add_argument("--max-length", type=int, default=30)
        add.add_argument("--passwords", choices=PasswordMode.values, default=PasswordMode.ACTIVATION)
        add.add_argument("--must-change", choices=["on", "off"], default="on")
        add.add_argument("--min-length", type=int, default=10)
        listing = sub.add_parser("list", help="list groups")
        listing.add_argument("slug")
        for p in (add, listing):
            p.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    def run(self, **options: Any) -> tuple[dict, Any]:
        district = self.district(options["slug"])
        if options["action"] == "list":
            return {
                "groups": [describe(g) for g in AccountGroup.objects.filter(district=district)]
            }, self.render
        if not 3 <= options["max_length"] <= 150:
            raise InputRejected("--max-length must be between 3 and 150")
        if not 8 <= options["min_length"] <= 128:
            raise InputRejected("--min-length must be between 8 and 128")
        if options["usernames"] == UsernameSource.SCHEME:
            from schoolgate.accounts.naming import InvalidScheme, compile_scheme

            try:
                compile_scheme(options["scheme"])
            except InvalidScheme as exc:
                raise InputRejected(f"--scheme: {exc}") from None
        try:
            group = AccountGroup.objects.create(
                district=district, name=options["name"], audience=options["audience"],
                school_codes=options["school"], grades=options["grade"], username_source=options["usernames"],
                naming_scheme=options["scheme"], username_max_length=options["max_length"],
                password_mode=options["passwords"], must_change_password=options["must_change"] == "on",
                min_password_length=options["min_length"],
            )  # fmt: skip
        except IntegrityError:
            raise InputRejected(f"a group {options['name']!r} already exists in this district") from None
        return {"group": describe(group)}, self.render

    def render(self, doc: dict) -> None:
        for g in doc.get("groups") or [doc["group"]]:
            self.stdout.write(
                f"{g['name']}: {g['audience']}, usernames {g['usernames']} ({g['scheme']}), passwords {g['passwords']}"
            )
