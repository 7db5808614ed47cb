"""`schoolgate jobs SLUG [--id N | --cancel N | --resume N]`: watch, cancel and resume background jobs.

A refused cancel or resume (the job's status does not allow it, or the database stayed locked) exits 1 with
the reason, as `{"error": …}` with --json. A failed job is listed with its error.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand
from schoolgate.jobs.models import Job
from schoolgate.jobs.runner import HEARTBEAT_TIMEOUT, JobRejected, cancel_job, resume_job
from schoolgate.jobs.views_data import describe_job


class Command(SchoolgateCommand):
    help = "List a district's jobs with their progress; cancel or resume one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--id", type=int, help="show one job")
        which.add_argument("--cancel", type=int, metavar="ID", help="stop a job after its current batch")
        which.add_argument(
            "--resume",
            type=int,
            metavar="ID",
            help="continue a cancelled or failed job, or a running one whose worker died (silent for "
            f"{HEARTBEAT_TIMEOUT.total_seconds() / 60:.0f} minutes)",
        )

    def run(self, **options: Any) -> tuple[dict, Any]:
        district = self.district(options["slug"])
        wanted = options["id"] or options["cancel"] or options["resume"]
        if wanted is None:
            return {
                "jobs": [describe_job(j) for j in Job.objects.filter(district=district)[:50]]
            }, self.render
        job = Job.objects.filter(district=district, pk=wanted).first()
        if job is None:
            raise InputRejected(f"no job {wanted} in this district")
        try:
            if options["cancel"]:
                job = cancel_job(job, actor=audit.cli_actor())
            elif options["resume"]:
                job = resume_job(job, actor=audit.cli_actor())
        except JobRejected as exc:
            raise InputRejected(str(exc)) from None
        return {"job": describe_job(job)}, self.render

    def render(self, doc: dict) -> None:
        for j in doc.get("jobs") or [doc["job"]]:
            self.stdout.write(
                f"#{j['id']} {j['title']}: {j['status']} {j['done']}/{j['total']} ({j['failed']} failed)"
            )
            if j["error"]:
                self.stdout.write(f"    error: {j['error']}")
