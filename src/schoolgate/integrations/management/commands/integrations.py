"""`schoolgate integrations …`: SCIM push targets, webhook endpoints, their status, and a delivery run.

    schoolgate integrations status SLUG
    schoolgate integrations scim add SLUG NAME BASE_URL (--token T | --token-env VAR) [--disabled]
    schoolgate integrations scim list SLUG
    schoolgate integrations scim set SLUG NAME [--enabled on|off] [--url U] [--token T | --token-env VAR]
    schoolgate integrations scim remove SLUG NAME
    schoolgate integrations scim retry SLUG NAME          # failed pushes get a fresh set of attempts
    schoolgate integrations scim failures SLUG NAME       # failed pushes and their errors
    schoolgate integrations webhook add SLUG NAME URL --events account.revoked,sync.finished|*
    schoolgate integrations webhook list SLUG
    schoolgate integrations webhook remove SLUG NAME
    schoolgate integrations run                           # push and deliver what is due now, here

Tokens are never printed; a webhook's signing secret is printed once, by `webhook add`. Prefer
`--token-env` to `--token`: a command line is visible to other users of the machine.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import CommandParser

from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand, json_flag
from schoolgate.integrations import configuration as config
from schoolgate.integrations.tasks import drain


class Command(SchoolgateCommand):
    help = "SCIM push targets and webhook endpoints: add, list, change, remove, status."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="area", required=True)
        status = sub.add_parser(
            "status", help="every target's and endpoint's pending, failed, lag, last success"
        )
        status.add_argument("slug")
        json_flag(status)
        run = sub.add_parser("run", help="push and deliver everything due now, in this process")
        json_flag(run)

        scim = sub.add_parser("scim", help="SCIM push targets").add_subparsers(dest="action", required=True)
        add = scim.add_parser("add", help="add a target; every account of the district is queued for it")
        add.add_argument("slug")
        add.add_argument("name")
        add.add_argument(
            "base_url", help="the SCIM base URL, before /Users (e.g. https://app.example/scim/v2)"
        )
        add.add_argument("--token", help="the bearer token")
        add.add_argument("--token-env", help="read the bearer token from this environment variable")
        add.add_argument("--disabled", action="store_true", help="add it switched off")
        json_flag(add)
        change = scim.add_parser("set", help="switch a target on/off, or replace its URL or token")
        change.add_argument("slug")
        change.add_argument("name")
        change.add_argument("--enabled", choices=["on", "off"])
        change.add_argument("--url")
        change.add_argument("--token")
        change.add_argument("--token-env")
        json_flag(change)
        for name, text in (("list", "list targets with their status"),):
            listing = scim.add_parser(name, help=text)
            listing.add_argument("slug")
            json_flag(listing)
        for name, text in (("remove", "remove a target and its push state"),
                           ("retry", "give failed pushes a fresh set of attempts"),
                           ("failures", "failed pushes with their last error")):  # fmt: skip
            one = scim.add_parser(name, help=text)
            one.add_argument("slug")
            one.add_argument("name")
            json_flag(one)

        hook = sub.add_parser("webhook", help="webhook endpoints").add_subparsers(
            dest="action", required=True
        )
        hadd = hook.add_parser("add", help="add an endpoint; prints its signing secret once")
        hadd.add_argument("slug")
        hadd.add_argument("name")
        hadd.add_argument("url")
        hadd.add_argument("--events", required=True, help="comma-separated event types, or * for all")
        json_flag(hadd)
        hlist = hook.add_parser("list", help="list endpoints with their status")
        hlist.add_argument("slug")
        json_flag(hlist)
        hremove = hook.add_parser("remove", help="remove an endpoint and its deliveries")
        hremove.add_argument("slug")
        hremove.add_argument("name")
        json_flag(hremove)

    def run(self, **options: Any) -> tuple[dict[str, Any], Any]:
        try:
            return self._run(options)
        except config.IntegrationRejected as exc:
            raise InputRejected(str(exc)) from None

    def _run(self, options: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        area, action = options["area"], options.get("action")
        actor = audit.cli_actor()
        if area == "run":
            return {"run": drain()}, self.render_run
        district = self.district(options["slug"])
        if area == "status":
            doc = {"targets": config.target_status(district), "endpoints": config.endpoint_status(district)}
            return doc, self.render_status
        if area == "scim":
            if action == "add":
                token = self._token(options, required=True)
                assert token is not None
                target = config.add_target(district, options["name"], options["base_url"], token,
                                           actor=actor, enabled=not options["disabled"])  # fmt: skip
                return {"target": self._target(district, target.name)}, self.render_status
            if action == "set":
                enabled = None if options["enabled"] is None else options["enabled"] == "on"
                target = config.set_target(district, options["name"], actor=actor, enabled=enabled,
                                           token=self._token(options, required=False),
                                           base_url=options["url"])  # fmt: skip
                return {"target": self._target(district, target.name)}, self.render_status
            if action == "list":
                return {"targets": config.target_status(district)}, self.render_status
            if action == "remove":
                config.remove_target(district, options["name"], actor=actor)
                return {"removed": options["name"]}, self.render_removed
            if action == "retry":
                count = config.retry_failed(district, options["name"], actor=actor)
                return {"requeued": count}, lambda d: self.stdout.write(f"{d['requeued']} push(es) requeued")
            failures = config.failed_pushes(district, options["name"])
            return {"failures": failures}, self.render_failures
        if action == "add":
            types = config.parse_event_types(options["events"])
            created = config.add_endpoint(district, options["name"], options["url"], types, actor=actor)
            doc = {"endpoint": {"name": created.endpoint.name, "url": created.endpoint.url,
                                "event_types": types}, "secret": created.secret}  # fmt: skip
            return doc, self.render_secret
        if action == "list":
            return {"endpoints": config.endpoint_status(district)}, self.render_status
        config.remove_endpoint(district, options["name"], actor=actor)
        return {"removed": options["name"]}, self.render_removed

    @staticmethod
    def _token(options: dict[str, Any], *, required: bool) -> str | None:
        token, variable = options.get("token"), options.get("token_env")
        if token is not None and variable is not None:
            raise InputRejected("give the token with --token or --token-env, not both")
        if variable is not None:
            token = os.environ.get(variable)
            if not token:
                raise InputRejected(f"the environment variable {variable} (--token-env) is not set or empty")
        if required and not token:
            raise InputRejected("the SCIM target needs a bearer token: --token-env VAR (or --token TOKEN)")
        return token

    @staticmethod
    def _target(district: Any, name: str) -> dict[str, Any]:
        return next(t for t in config.target_status(district) if t["name"] == name)

    # ── rendering for people ───────────────────────────────────────────────────────────────────────────

    def render_status(self, doc: dict[str, Any]) -> None:
        targets = doc.get("targets") or ([doc["target"]] if "target" in doc else [])
        for t in targets:
            state = "on" if t["enabled"] else "OFF"
            self.stdout.write(
                f"SCIM {t['name']} [{state}] {t['base_url']}: pending {t['pending']}, failed {t['failed']}, "
                f"pushed {t['pushed']}, lag {t['lag_seconds']} s, last success {t['last_success_at'] or 'never'}"
            )
            if t["last_error"]:
                self.stdout.write(f"    last error ({t['last_error_at']}): {t['last_error']}")
        for e in doc.get("endpoints", []):
            state = "on" if e["enabled"] else "OFF"
            self.stdout.write(
                f"webhook {e['name']} [{state}] {e['url']} ({', '.join(e['event_types'])}): pending "
                f"{e['pending']}, failed {e['failed']}, delivered {e['delivered']}, lag {e['lag_seconds']} s, "
                f"last success {e['last_success_at'] or 'never'}"
            )
            if e["last_error"]:
                self.stdout.write(f"    last error: {e['last_error']}")
        if not targets and not doc.get("endpoints"):
            self.stdout.write(
                "No integrations: add one with `schoolgate integrations scim add` or `webhook add`."
            )

    def render_secret(self, doc: dict[str, Any]) -> None:
        e = doc["endpoint"]
        self.stdout.write(f"webhook {e['name']} → {e['url']} ({', '.join(e['event_types'])})")
        self.stdout.write(f"signing secret (shown once, store it now): {doc['secret']}")

    def render_removed(self, doc: dict[str, Any]) -> None:
        self.stdout.write(f"removed {doc['removed']}")

    def render_failures(self, doc: dict[str, Any]) -> None:
        for f in doc["failures"]:
            self.stdout.write(
                f"account {f['account_id']} after {f['attempts']} attempt(s): {f['last_error']}"
            )
        if not doc["failures"]:
            self.stdout.write("no failed pushes")

    def render_run(self, doc: dict[str, Any]) -> None:
        self.stdout.write(", ".join(f"{k} {v}" for k, v in doc["run"].items()))
