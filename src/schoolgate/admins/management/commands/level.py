"""`schoolgate level …`: service levels (`service:<key>`), the permission levels defined as data that admins
and API tokens can hold besides the built-in roles — e.g. a token that uploads SIS exports needs `sync.run`,
which no built-in role a token may carry has.

schoolgate level add sis-bridge "SIS bridge" --permission sync.view --permission sync.run [--district SLUG]
schoolgate level change sis-bridge [--name "SIS upload"] [--permission P …] [--district SLUG]
schoolgate level remove sis-bridge [--district SLUG]
schoolgate level list [--district SLUG]

`--district` names the level defined for that district; without it, the level for every district.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from schoolgate.admins import roles
from schoolgate.admins.authz import service_levels
from schoolgate.admins.models import ServiceRole
from schoolgate.admins.service_levels import (
    NOT_FOR_SERVICE_LEVELS,
    ServiceLevelRejected,
    change_service_level,
    define_service_level,
    remove_service_level,
)
from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand, json_flag


class Command(SchoolgateCommand):
    help = "Define, change, remove and list service levels (service:<key>) for admins and API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="define a service level")
        add.add_argument(
            "key", help="short name: lower-case letters, digits and dashes; held as service:<key>"
        )
        add.add_argument("name", help="what admins see, e.g. 'SIS bridge'")
        valid = ", ".join(sorted(roles.ALL - NOT_FOR_SERVICE_LEVELS))
        add.add_argument("--permission", action="append", required=True, metavar="P",
                         help=f"repeat for each: {valid}")  # fmt: skip
        add.add_argument("--district", metavar="SLUG", help="only this district (default: every district)")
        change = sub.add_parser("change", help="rename a level or replace its permissions (applies at once)")
        change.add_argument("key")
        change.add_argument("--name", help="the new name admins see")
        change.add_argument("--permission", action="append", metavar="P",
                            help=f"the level's whole new set, repeat for each: {valid}")  # fmt: skip
        remove = sub.add_parser("remove", help="remove a level that no admin, invitation or token holds")
        remove.add_argument("key")
        for p in (change, remove):
            p.add_argument("--district", metavar="SLUG", help="the level defined for this district")
        lst = sub.add_parser("list", help="the service levels (with --district: those that apply there)")
        lst.add_argument("--district", metavar="SLUG")
        for p in (add, change, remove, lst):
            json_flag(p)

    def run(self, **options: Any) -> tuple[dict, Any]:
        district = self.district(options["district"]) if options["district"] else None
        actor = audit.cli_actor()
        try:
            if options["action"] == "add":
                level = define_service_level(options["key"], options["name"], options["permission"],
                                             district=district, actor=actor)  # fmt: skip
                return {"levels": [self.describe(level)]}, self.render
            if options["action"] == "change":
                level = change_service_level(options["key"], district=district, actor=actor,
                                             name=options["name"], permissions=options["permission"])  # fmt: skip
                return {"levels": [self.describe(level)]}, self.render
            if options["action"] == "remove":
                removed = remove_service_level(options["key"], district=district, actor=actor)
                return {
                    "removed": {"level": f"{roles.SERVICE_PREFIX}{removed['key']}", **removed}
                }, self.render
        except ServiceLevelRejected as exc:
            raise InputRejected(str(exc)) from None
        levels = service_levels(district) if district else ServiceRole.objects.all()
        ordered = levels.select_related("district").order_by("key", "district__slug")
        return {"levels": [self.describe(level) for level in ordered]}, self.render

    @staticmethod
    def describe(level: ServiceRole) -> dict[str, Any]:
        return {"level": f"{roles.SERVICE_PREFIX}{level.key}", "key": level.key, "name": level.name,
                "permissions": sorted(level.permissions),
                "district": level.district.slug if level.district else None}  # fmt: skip

    def render(self, doc: dict) -> None:
        if "removed" in doc:
            self.stdout.write(f"Removed {doc['removed']['level']} ({doc['removed']['name']}).")
            return
        for level in doc["levels"]:
            where = level["district"] or "every district"
            self.stdout.write(
                f"{level['level']:<28} {where:<20} {level['name']}: {', '.join(level['permissions'])}"
            )
        if not doc["levels"]:
            self.stdout.write("No service levels.")
