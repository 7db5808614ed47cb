"""`schoolgate group add|list`: account groups — audience, usernames, naming scheme, password policy.

schoolgate group add SLUG NAME --audience contact|student|staff [--school CODE]… [--grade G]…
    [--usernames chosen|sis|scheme] [--scheme "{first}.{last}"] [--max-length 30]
    [--passwords activation|generated] [--must-change on|off] [--min-length 10]
schoolgate group list SLUG
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from schoolgate.accounts import groups
from schoolgate.accounts.groups import GroupRejected, define_group, describe
from schoolgate.accounts.models import AccountGroup, PasswordMode, UsernameSource
from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand, json_flag

# How the command has always worded a rejection of each option (scripts may match on it); the domain's
# message follows. A duplicate name's message stands alone.
WORDING = {"name": "{}", "max_length": "--max-length {}", "min_length": "--min-length {}"}
FLAGS = {"schools": "--school", "grades": "--grade"}


def rejection(exc: GroupRejected) -> str:
    """The first wrong field, as the command names it."""
    flag = FLAGS.get(exc.field, "--" + exc.field.replace("_", "-"))
    return WORDING.get(exc.field, flag + ": {}").format(exc.message)


class Command(SchoolgateCommand):
    help = "Define or list the account groups used to generate accounts."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="define a group")
        add.add_argument("slug")
        add.add_argument("name")
        add.add_argument("--audience", required=True, choices=groups.AUDIENCES)
        add.add_argument("--school", action="append", default=[], help="limit to a school (repeatable)")
        add.add_argument("--grade", action="append", default=[], help="limit to a grade (repeatable)")
        add.add_argument("--usernames", choices=UsernameSource.values, default=UsernameSource.SCHEME)
        add.add_argument(
            "--scheme", default=groups.DEFAULT_SCHEME, help="naming scheme, e.g. {first:1}{last}{counter}"
        )
        add.add_argument("--max-length", type=int, default=groups.DEFAULT_MAX_LENGTH)
        add.add_argument("--passwords", choices=PasswordMode.values, default=PasswordMode.ACTIVATION)
        add.add_argument("--must-change", choices=["on", "off"], default="on")
        add.add_argument("--min-length", type=int, default=groups.DEFAULT_MIN_LENGTH)
        listing = sub.add_parser("list", help="list groups")
        listing.add_argument("slug")
        for p in (add, listing):
            json_flag(p)

    def run(self, **options: Any) -> tuple[dict, Any]:
        district = self.district(options["slug"])
        if options["action"] == "list":
            return {
                "groups": [describe(g) for g in AccountGroup.objects.filter(district=district)]
            }, self.render
        try:
            group = define_group(
                district, name=options["name"], audience=options["audience"], schools=options["school"],
                grades=options["grade"], usernames=options["usernames"], scheme=options["scheme"],
                max_length=options["max_length"], passwords=options["passwords"],
                must_change=options["must_change"] == "on", min_length=options["min_length"],
                actor=audit.cli_actor(),
            )  # fmt: skip
        except GroupRejected as exc:
            raise InputRejected(rejection(exc)) from None
        return {"group": describe(group)}, self.render

    def render(self, doc: dict) -> None:
        for g in doc.get("groups") or [doc["group"]]:
            self.stdout.write(
                f"{g['name']}: {g['audience']}, usernames {g['usernames']} ({g['scheme']}), passwords {g['passwords']}"
            )
