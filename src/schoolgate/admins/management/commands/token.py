"""`schoolgate token …`: API and SCIM tokens for one district at one level.

schoolgate token create SLUG --name "SIS bridge" --level support --scope api   (prints the token once)
schoolgate token list SLUG
schoolgate token revoke SLUG PREFIX
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from schoolgate.admins.delegation import AdminChangeRejected
from schoolgate.admins.models import ApiToken
from schoolgate.admins.tokens import SCOPES, create_token, revoke_token
from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand, json_flag


class Command(SchoolgateCommand):
    help = "Create, list and revoke API and SCIM tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="a new token (shown once)")
        create.add_argument("slug")
        create.add_argument("--name", required=True)
        create.add_argument("--level", default="support", help="the role whose permissions the token carries")
        create.add_argument("--scope", choices=SCOPES, default="api")
        lst = sub.add_parser("list")
        lst.add_argument("slug")
        revoke = sub.add_parser("revoke")
        revoke.add_argument("slug")
        revoke.add_argument("prefix", help="the token's first characters, as `token list` shows them")
        for p in (create, lst, revoke):
            json_flag(p)

    def run(self, **options: Any) -> tuple[dict, Any]:
        district = self.district(options["slug"])
        tokens = ApiToken.objects.filter(district=district)
        if options["action"] == "create":
            try:
                raw, token = create_token(district, level=options["level"], scope=options["scope"],
                                          name=options["name"], actor=audit.cli_actor())  # fmt: skip
            except AdminChangeRejected as exc:
                raise InputRejected(str(exc)) from None
            return {"token": raw, **self.describe(token)}, self.render_created
        if options["action"] == "revoke":
            found = tokens.filter(prefix=options["prefix"], revoked_at=None).first()
            if found is None:
                raise InputRejected(f"no active token {options['prefix']!r} in {district.slug}")
            revoke_token(found, actor=audit.cli_actor())
            return {"revoked": found.prefix}, lambda doc: self.stdout.write(f"Revoked {doc['revoked']}…")
        return {"tokens": [self.describe(t) for t in tokens.order_by("-created_at")]}, self.render_list

    @staticmethod
    def describe(t: ApiToken) -> dict[str, Any]:
        return {"prefix": t.prefix, "name": t.name, "level": t.level, "scope": t.scope,
                "created_at": t.created_at.isoformat(),
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                "revoked": t.revoked_at is not None}  # fmt: skip

    def render_created(self, doc: dict) -> None:
        self.stdout.write(
            f"{doc['token']}\nKeep it now: it is not shown again (level {doc['level']}, {doc['scope']})."
        )

    def render_list(self, doc: dict) -> None:
        for t in doc["tokens"]:
            used = (t["last_used_at"] or "never used")[:16]
            revoked = " (revoked)" if t["revoked"] else ""
            self.stdout.write(
                f"{t['prefix']}…  {t['scope']:<5} {t['level']:<14} last use {used:<16} {t['name']}{revoked}"
            )
        if not doc["tokens"]:
            self.stdout.write("No tokens.")
