"""`schoolgate notifications SLUG [--recipient R] [--read ID | --read-all]`: the admin's bell."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone

from schoolgate.core import audit
from schoolgate.core.cli import InputRejected, SchoolgateCommand
from schoolgate.jobs.models import Notification
from schoolgate.jobs.views_data import describe_notification


class Command(SchoolgateCommand):
    help = "List notifications (unread first) and mark them read."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--recipient", help="whose bell (default: you, as recorded on jobs you start)")
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--read", type=int, metavar="ID", help="mark one notification read")
        which.add_argument("--read-all", action="store_true")

    def run(self, **options: Any) -> tuple[dict, Any]:
        district = self.district(options["slug"])
        mine = Notification.objects.filter(
            district=district, recipient=options["recipient"] or audit.cli_actor()
        )
        now = timezone.now()
        if options["read"] is not None:
            if not mine.filter(pk=options["read"]).update(read_at=now):
                raise InputRejected(f"no notification {options['read']} for this recipient")
        elif options["read_all"]:
            mine.filter(read_at__isnull=True).update(read_at=now)
        rows = [describe_notification(n) for n in mine.order_by("read_at", "-created_at")[:100]]
        return {"unread": mine.filter(read_at__isnull=True).count(), "notifications": rows}, self.render

    def render(self, doc: dict) -> None:
        self.stdout.write(f"{doc['unread']} unread")
        for n in doc["notifications"]:
            self.stdout.write(f"{'  ' if n['read'] else '• '}#{n['id']} {n['title']} — {n['link']}")
