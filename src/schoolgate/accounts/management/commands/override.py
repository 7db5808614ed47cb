"""`schoolgate override set|remove|list`: admin decisions about one contact→student link that survive sync.

schoolgate override set SLUG CONTACT STUDENT --field portal|reports|… --value on|off --reason "…" [--until DATE]
schoolgate override remove SLUG ID
schoolgate override list SLUG [--all] [--contact CODE]
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone

from schoolgate.accounts.overrides import OverrideRejected, list_overrides, remove_override, set_override
from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand, json_flag
from schoolgate.people.models import OverrideField


def _until(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise InputRejected(f"--until {value!r}: expected a date like 2027-06-30") from None
    # Valid through the whole of that day, in the district's time zone.
    return timezone.make_aware(datetime.combine(day, time.max))


class Command(SchoolgateCommand):
    help = "Force a contact's portal access or a section for one student on or off, despite the SIS."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("set", help="set (or replace) an override")
        add.add_argument("slug")
        add.add_argument("contact", help="the contact's SIS code")
        add.add_argument("student", help="the student's SIS code")
        add.add_argument("--field", required=True, choices=OverrideField.values)
        add.add_argument("--value", required=True, choices=["on", "off"])
        add.add_argument("--reason", required=True, help="why: shown to every admin who meets the override")
        add.add_argument("--until", help="last day the override holds (YYYY-MM-DD); default: until removed")
        remove = sub.add_parser("remove", help="hand the field back to the rules")
        remove.add_argument("slug")
        remove.add_argument("id", type=int)
        listing = sub.add_parser("list", help="list overrides in force")
        listing.add_argument("slug")
        listing.add_argument("--all", action="store_true", help="include removed and expired overrides")
        listing.add_argument("--contact", help="only this contact's")
        for sub_parser in (add, remove, listing):
            json_flag(sub_parser)

    def run(self, **options: Any) -> tuple[dict, Any]:
        district = self.district(options["slug"])
        actor = audit.cli_actor()
        try:
            if options["action"] == "set":
                override = set_override(
                    district,
                    contact=options["contact"],
                    student=options["student"],
                    field=options["field"],
                    value=options["value"] == "on",
                    reason=options["reason"],
                    expires_at=_until(options["until"]),
                    actor=actor,
                )
                return {"override": self.row(district, override.pk)}, self.render
            if options["action"] == "remove":
                override = remove_override(district, options["id"], actor=actor)
                return {"override": self.row(district, override.pk, include_removed=True)}, self.render
        except OverrideRejected as exc:
            raise InputRejected(str(exc)) from None
        rows = list_overrides(district, include_removed=options["all"], contact=options["contact"])
        return {"overrides": [r.as_dict() for r in rows]}, self.render

    @staticmethod
    def row(district: Any, pk: int, include_removed: bool = False) -> dict:
        return next(r.as_dict() for r in list_overrides(district, include_removed=True) if r.id == pk)

    def render(self, doc: dict) -> None:
        rows = doc["overrides"] if "overrides" in doc else [doc["override"]]  # list, or set/remove
        for r in rows:
            state = (
                "removed"
                if r["removed_at"]
                else f"until {r['expires_at'][:10]}"
                if r["expires_at"]
                else "in force"
            )
            self.stdout.write(
                f"#{r['id']} {r['contact']} → {r['student']}: {r['field']} {'on' if r['value'] else 'off'}"
                f" ({state}) — {r['reason']}"
            )
        if not rows:
            self.stdout.write("No overrides in force.")
