"""`schoolgate doctor SLUG (--username U | --email E | --person CODE) [--student CODE] [--apply FINDING]`:
why can't this person log in, or see this child — and the fix."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from schoolgate.accounts.doctor import FixRejected, apply_fix, diagnose
from schoolgate.accounts.doctor.diagnose import UnknownSubject
from schoolgate.accounts.lifecycle import IllegalTransition
from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand


class Command(SchoolgateCommand):
    help = "Diagnose a login problem end to end and propose (or apply) the fix."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--username", help="the username they type")
        who.add_argument("--email", help="their e-mail address")
        who.add_argument("--person", help="their SIS code")
        parser.add_argument("--student", help="the student they cannot see (SIS code)")
        parser.add_argument(
            "--apply", metavar="FINDING", help="apply the fix of this finding (e.g. not_provisioned)"
        )

    def run(self, **options: Any) -> tuple[dict, Any]:
        district = self.district(options["slug"])
        ask = {k: options[k] for k in ("username", "email", "person", "student")}
        try:
            report = diagnose(district, **ask)
            applied = None
            if options["apply"]:
                applied = apply_fix(district, report, options["apply"], actor=audit.cli_actor())
                report = diagnose(district, **ask)
        except (UnknownSubject, FixRejected, IllegalTransition) as exc:
            raise InputRejected(str(exc)) from None
        doc = report.as_dict()
        if applied:
            doc["applied"] = applied
        return doc, self.render

    def render(self, doc: dict) -> None:
        if doc.get("applied"):
            a = doc["applied"]
            self.stdout.write(f"Applied: {a['action']} for {a['person']}.")
        for f in doc["findings"]:
            self.stdout.write(f"[{f['severity']}] {f['code']} ({f['person'] or '?'}): {f['message']}")
            self.stdout.write(f"    fix: {f['fix']['description']}  →  {f['fix']['command']}")
        if not doc["findings"]:
            self.stdout.write("Nothing wrong found.")
