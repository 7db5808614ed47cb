"""Run one sync and SIGKILL this process when it reaches the named step (a real crash, mid-transaction).

Usage: python kill_during_sync.py SLUG PATH STEP
"""

import os
import signal
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "schoolgate.settings")

import django

django.setup()

from schoolgate.core.models import District  # noqa: E402
from schoolgate.sync.engine import run_sync  # noqa: E402

slug, path, kill_at = sys.argv[1:4]


def step(name: str) -> None:
    if name == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)


run_sync(District.objects.get(slug=slug), path, progress=step, confirm=True)
sys.exit("the sync finished before reaching the step")
