"""`schoolgate oidc add-client SLUG --name N --redirect-uri URI [--public]` and `schoolgate oidc list-clients
SLUG`: register and list a district's OpenID Connect clients."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand, json_flag
from schoolgate.oidc.clients import ClientRejected, add_client, describe, list_clients


class Command(SchoolgateCommand):
    help = "Register and list a district's OpenID Connect clients."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add-client", help="register a client (authorization code + PKCE)")
        add.add_argument("slug", help="the district whose accounts may use the client")
        add.add_argument("--name", required=True, help="shown to people on the consent page")
        add.add_argument(
            "--redirect-uri", action="append", required=True, dest="redirect_uris",
            help="where the client receives codes (repeat for several)",
        )  # fmt: skip
        add.add_argument(
            "--public",
            action="store_true",
            help="a client that cannot keep a secret (mobile, single-page app)",
        )
        json_flag(add)
        lst = sub.add_parser("list-clients", help="list the district's clients")
        lst.add_argument("slug")
        json_flag(lst)

    def run(self, **options: Any) -> tuple[dict, Any]:
        district = self.district(options["slug"])
        if options["action"] == "add-client":
            try:
                new = add_client(
                    district, name=options["name"], redirect_uris=options["redirect_uris"],
                    public=options["public"], actor=audit.cli_actor(),
                )  # fmt: skip
            except ClientRejected as exc:
                raise InputRejected(str(exc)) from None
            document = {"client": describe(new.client)}
            if new.secret is not None:
                document["client_secret"] = new.secret
            return document, self.render_new
        return {"clients": [describe(c) for c in list_clients(district)]}, self.render_list

    def render_new(self, doc: dict) -> None:
        client = doc["client"]
        self.stdout.write(f"client_id: {client['client_id']}")
        if "client_secret" in doc:
            self.stdout.write(f"client_secret: {doc['client_secret']}")
            self.stdout.write("The secret is shown only now: store it in the client's configuration.")

    def render_list(self, doc: dict) -> None:
        for c in doc["clients"]:
            self.stdout.write(
                f"{c['client_id']}  {c['client_type']:<12} {c['name']}  {' '.join(c['redirect_uris'])}"
            )
        if not doc["clients"]:
            self.stdout.write(
                "No clients yet: add one with `schoolgate oidc add-client SLUG --name N --redirect-uri URI`."
            )
