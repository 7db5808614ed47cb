"""Print, as JSON, the accounts whose state disagrees with their last audit event (an empty list is good)."""

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "schoolgate.settings")

import django

django.setup()

from schoolgate.core.models import District  # noqa: E402
from tests.sync.helpers import audit_disagreements  # noqa: E402

print(json.dumps(audit_disagreements(District.objects.get(slug=sys.argv[1]))))
