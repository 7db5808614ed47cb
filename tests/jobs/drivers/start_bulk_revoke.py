"""Queue a console-style bulk revoke job for every ready_to_revoke account of a district; print its id.

Usage: python start_bulk_revoke.py SLUG
"""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "schoolgate.settings")

import django

django.setup()

from schoolgate.accounts.bulk_jobs import KIND  # noqa: E402
from schoolgate.accounts.models import Account  # noqa: E402
from schoolgate.core.models import District  # noqa: E402
from schoolgate.jobs.runner import create_job  # noqa: E402

district = District.objects.get(slug=sys.argv[1])
people = list(
    Account.objects.filter(district=district, state="ready_to_revoke")
    .order_by("person_id")
    .values_list("person_id", flat=True)
)
job = create_job(district, kind=KIND, title="Revoke access", person_ids=people, params={"action": "revoke"},
                 actor="admin:test")  # fmt: skip
print(job.pk)
