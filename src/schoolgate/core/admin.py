"""Read-only admin views of districts, schools and the audit log."""

from django.contrib import admin

from schoolgate.core.models import AuditEvent, District, School
from schoolgate.core.readonly_admin import ReadOnlyAdmin


@admin.register(District)
class DistrictAdmin(ReadOnlyAdmin):
    list_display = ["slug", "name", "revoke_guard_share", "created_at"]


@admin.register(School)
class SchoolAdmin(ReadOnlyAdmin):
    list_display = ["name", "sis_code", "org_type", "district", "in_sis"]
    list_filter = ["district", "org_type", "in_sis"]
    search_fields = ["name", "sis_code"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "district", "actor", "action", "target_type", "target_label"]
    list_filter = ["district", "action"]
    search_fields = ["target_label", "actor"]
