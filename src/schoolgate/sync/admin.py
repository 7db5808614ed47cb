"""Read-only admin view of sync runs and their reports."""

from django.contrib import admin

from schoolgate.core.readonly_admin import ReadOnlyAdmin
from schoolgate.sync.models import SyncRun


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ["pk", "district", "status", "format", "started_at", "finished_at", "actor"]
    list_filter = ["district", "status"]
