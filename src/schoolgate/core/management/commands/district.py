"""`schoolgate district add SLUG NAME` and `schoolgate district list`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand
from schoolgate.core.models import District
from schoolgate.people.eligibility import install_default_rules


class Command(SchoolgateCommand):
    help = "Add or list districts."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a district (with the default eligibility rules)")
        add.add_argument("slug", help="short name used on the command line and in URLs, e.g. 'springfield'")
        add.add_argument("name", help="the district's full name")
        add.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        lst = sub.add_parser("list", help="list districts")
        lst.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    def run(self, **options: Any) -> tuple[dict, Any]:
        if options["action"] == "add":
            return self.add(options["slug"], options["name"]), self.render_one
        districts = [{"slug": d.slug, "name": d.name} for d in District.objects.all()]
        return {"districts": districts}, self.render_list

    def add(self, slug: str, name: str) -> dict[str, Any]:
        if slugify(slug) != slug:
            raise InputRejected(f"slug {slug!r} may hold only lower-case letters, digits, '-' and '_'")
        if not name.strip():
            raise InputRejected("the district needs a name")
        try:
            with transaction.atomic():
                district = District.objects.create(slug=slug, name=name.strip())
                install_default_rules(district)
                audit.record(
                    district, audit.cli_actor(), "district.added", target_type="district",
                    target_id=district.pk, target_label=slug, after={"slug": slug, "name": district.name},
                )  # fmt: skip
        except IntegrityError:
            raise InputRejected(f"a district {slug!r} already exists") from None
        return {"district": {"slug": district.slug, "name": district.name, "id": district.pk}}

    def render_one(self, doc: dict) -> None:
        self.stdout.write(f"Added district {doc['district']['slug']}: {doc['district']['name']}")

    def render_list(self, doc: dict) -> None:
        for d in doc["districts"]:
            self.stdout.write(f"{d['slug']:<24} {d['name']}")
        if not doc["districts"]:
            self.stdout.write("No districts yet: add one with `schoolgate district add SLUG NAME`.")
