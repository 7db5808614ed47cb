"""Run a job in this process (as the worker does), printing a line after each committed batch.

Usage: python run_job.py JOB_ID
"""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "schoolgate.settings")

import django

django.setup()

from schoolgate.jobs.runner import run_job  # noqa: E402

job = run_job(int(sys.argv[1]), on_batch=lambda job: print("batch", flush=True))
print(job.status, flush=True)
