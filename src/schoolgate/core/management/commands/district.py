"""`schoolgate district add SLUG NAME`, `schoolgate district set SLUG …` and `schoolgate district list`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.db import transaction

from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand, json_flag
from schoolgate.core.districts import DistrictRejected, create_district
from schoolgate.core.models import District


class Command(SchoolgateCommand):
    help = "Add or list districts."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a district (with the default eligibility rules)")
        add.add_argument("slug", help="short name used on the command line and in URLs, e.g. 'springfield'")
        add.add_argument("name", help="the district's full name")
        json_flag(add)
        change = sub.add_parser("set", help="change a district's settings")
        change.add_argument("slug")
        change.add_argument("--name")
        change.add_argument(
            "--guard-share",
            type=float,
            help="share of invited+active accounts one sync may flag for revocation",
        )
        change.add_argument(
            "--guard-minimum", type=int, help="a sync flagging this many accounts or fewer is never held"
        )
        change.add_argument(
            "--auto-transfer",
            choices=["on", "off"],
            help="carry a login over to its successor record by itself when the identity match is strong",
        )
        change.add_argument(
            "--username-source",
            choices=["chosen", "sis", "email"],
            help="where usernames come from: chosen at activation, the SIS username, or the e-mail address",
        )
        json_flag(change)
        lst = sub.add_parser("list", help="list districts")
        json_flag(lst)

    def run(self, **options: Any) -> tuple[dict, Any]:
        if options["action"] == "add":
            return self.add(options["slug"], options["name"]), self.render_one
        if options["action"] == "set":
            return self.change(options), self.render_one
        districts = [{"slug": d.slug, "name": d.name} for d in District.objects.all()]
        return {"districts": districts}, self.render_list

    def add(self, slug: str, name: str) -> dict[str, Any]:
        try:
            return self.describe(create_district(slug, name, actor=audit.cli_actor()))
        except DistrictRejected as exc:
            raise InputRejected(str(exc)) from None

    def change(self, options: dict[str, Any]) -> dict[str, Any]:
        district = self.district(options["slug"])
        share, minimum = options["guard_share"], options["guard_minimum"]
        if share is not None and not 0.0 <= share <= 1.0:
            raise InputRejected(f"--guard-share {share} must be between 0 and 1 (0.05 = 5%)")
        if minimum is not None and minimum < 0:
            raise InputRejected(f"--guard-minimum {minimum} cannot be negative")
        before = self.describe(district)["district"]
        if options["name"] is not None:
            if not options["name"].strip():
                raise InputRejected("the district needs a name")
            district.name = options["name"].strip()
        if share is not None:
            district.revoke_guard_share = share
        if minimum is not None:
            district.revoke_guard_minimum = minimum
        if options["auto_transfer"] is not None:
            district.auto_transfer_strong_matches = options["auto_transfer"] == "on"
        if options["username_source"] is not None:
            district.username_source = options["username_source"]
        with transaction.atomic():
            district.save()
            after = self.describe(district)["district"]
            audit.record(
                district, audit.cli_actor(), "district.changed", target_type="district",
                target_id=district.pk, target_label=district.slug, before=before, after=after,
            )  # fmt: skip
        return self.describe(district)

    @staticmethod
    def describe(district: District) -> dict[str, Any]:
        return {
            "district": {
                "slug": district.slug,
                "name": district.name,
                "id": district.pk,
                "guard_share": district.revoke_guard_share,
                "guard_minimum": district.revoke_guard_minimum,
                "auto_transfer": district.auto_transfer_strong_matches,
                "username_source": district.username_source,
            }
        }

    def render_one(self, doc: dict) -> None:
        d = doc["district"]
        self.stdout.write(f"{d['slug']}: {d['name']}")

    def render_list(self, doc: dict) -> None:
        for d in doc["districts"]:
            self.stdout.write(f"{d['slug']:<24} {d['name']}")
        if not doc["districts"]:
            self.stdout.write("No districts yet: add one with `schoolgate district add SLUG NAME`.")
