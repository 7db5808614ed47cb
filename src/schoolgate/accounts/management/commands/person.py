"""`schoolgate person SLUG CODE`: one person's details, account, links, sections and overrides."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from schoolgate.accounts.person_view import UnknownPerson, describe_person
from schoolgate.core.cli import InputRejected, SchoolgateCommand


class Command(SchoolgateCommand):
    help = "Show a person with their account and every link (flag, deciding rule, sections, overrides)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("code", help="the person's SIS code")

    def run(self, **options: Any) -> tuple[dict, Any]:
        try:
            return describe_person(self.district(options["slug"]), options["code"]), self.render
        except UnknownPerson as exc:
            raise InputRejected(str(exc)) from None

    def render(self, doc: dict) -> None:
        p, a = doc["person"], doc["account"]
        self.stdout.write(f"{p['name']} ({p['code']}, {p['kind']}{'' if p['in_sis'] else ', left the SIS'})")
        if a:
            reason = f"/{a['reason']}" if a["reason"] else ""
            self.stdout.write(f"  account: {a['state']}{reason}  username: {a['username'] or '—'}")
        else:
            self.stdout.write("  no account")
        for link in doc["links"]:
            other = link.get("student") or link.get("contact")
            access = ", ".join(link["sections"]) if link["portal_flag"] else "no portal access"
            forced = " (override)" if link["overrides"] else ""
            self.stdout.write(
                f"  {other} [{link['relationship']}] {access}{forced} — rule: {link['flag_rule'] or 'none'}"
            )
