"""Run a job and SIGKILL this process as it ends: "before" as the runner asks the kind for its report (no
file written yet), "after" as soon as the report files are written (before the runner records them with the
job's final status).

Usage: python kill_while_finishing.py JOB_ID before|after
"""

import dataclasses
import os
import signal
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "schoolgate.settings")

import django

django.setup()

from schoolgate.jobs import runner  # noqa: E402
from schoolgate.jobs.models import Job  # noqa: E402

job_id, moment = int(sys.argv[1]), sys.argv[2]
name = Job.objects.get(pk=job_id).kind
kind, write_reports = runner.KINDS[name], runner.write_reports


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def report_or_die(job: Job) -> runner.Report:
    if moment == "before":
        die()
    return kind.report(job)


def write_then_die(*args: object) -> object:
    written = write_reports(*args)
    die()
    return written


runner.KINDS[name] = dataclasses.replace(kind, report=report_or_die)
if moment == "after":
    runner.write_reports = write_then_die
runner.run_job(job_id)
sys.exit("the job finished without being killed")
