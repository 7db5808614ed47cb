"""`schoolgate generate SLUG GROUP (--preview | [--wait])`: generate a group's accounts in the background.

--preview lists every eligible person as "will be created" or "exists" with the username they would get and
changes nothing. Without it, a job is queued for the worker (`schoolgate db_worker`); --wait runs it here and
prints the result, with the report files.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import CommandParser

from schoolgate.accounts import generation
from schoolgate.accounts.models import AccountGroup
from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand
from schoolgate.jobs.runner import run_job
from schoolgate.jobs.views_data import describe_job


class Command(SchoolgateCommand):
    help = "Preview or generate the accounts of an account group."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("group", help="the group's name")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--preview", action="store_true", help="list what would be created; change nothing")
        mode.add_argument("--wait", action="store_true", help="run the job here instead of in the worker")

    def run(self, **options: Any) -> tuple[dict, Any]:
        district = self.district(options["slug"])
        group = AccountGroup.objects.filter(district=district, name=options["group"]).first()
        if group is None:
            raise InputRejected(
                f"no group {options['group']!r} in this district (see `schoolgate group list`)"
            )
        if options["preview"]:
            rows = [row.as_dict() for row in generation.preview(group)]
            return {
                "group": group.name,
                "counts": dict(Counter(r["account"] for r in rows)),
                "rows": rows,
            }, self.render
        job = generation.start(group, actor=audit.cli_actor())
        if options["wait"]:
            job = run_job(job.pk)
        return {"job": describe_job(job)}, self.render

    def render(self, doc: dict) -> None:
        if "rows" in doc:
            for r in doc["rows"]:
                self.stdout.write(
                    f"{r['person']:<16} {r['account']:<16} {r['username'] or '—':<30} {r['detail']}"
                )
            self.stdout.write(
                ", ".join(f"{k}: {v}" for k, v in doc["counts"].items()) or "Nobody in this group."
            )
            return
        j = doc["job"]
        self.stdout.write(
            f"Job {j['id']} {j['status']}: {j['done']}/{j['total']} done, {j['failed']} failed."
        )
        if j.get("error"):
            self.stdout.write(f"Error: {j['error']}")
        if j["report_pdf"]:
            self.stdout.write(f"Report: {j['report_pdf']} and {j['report_csv']}")
