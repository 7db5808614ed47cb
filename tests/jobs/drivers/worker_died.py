"""Take a job's worker for dead: move the job's last heartbeat back past the runner's HEARTBEAT_TIMEOUT, as if
that long had passed since the worker crashed (a running job may be resumed only then).

Usage: python worker_died.py JOB_ID
"""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "schoolgate.settings")

import django

django.setup()

from datetime import timedelta  # noqa: E402

from django.utils import timezone  # noqa: E402

from schoolgate.jobs.models import Job  # noqa: E402
from schoolgate.jobs.runner import HEARTBEAT_TIMEOUT  # noqa: E402

silent_since = timezone.now() - HEARTBEAT_TIMEOUT - timedelta(seconds=1)
if not Job.objects.filter(pk=int(sys.argv[1]), status="running").update(heartbeat_at=silent_since):
    sys.exit(f"job {sys.argv[1]} is not running")
