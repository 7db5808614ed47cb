"""Run a job and SIGKILL this process after its first committed batch (a real crash mid-run).

Usage: python kill_during_job.py JOB_ID
"""

import os
import signal
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "schoolgate.settings")

import django

django.setup()

from schoolgate.jobs.runner import run_job  # noqa: E402

run_job(int(sys.argv[1]), on_batch=lambda job: os.kill(os.getpid(), signal.SIGKILL))
sys.exit("the job finished without being killed")
