"""Print the whole district's data as JSON (for comparing states across processes)."""

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "schoolgate.settings")

import django

django.setup()

from schoolgate.core.models import District  # noqa: E402
from tests.sync.helpers import district_state  # noqa: E402

print(json.dumps(district_state(District.objects.get(slug=sys.argv[1])), default=str))
