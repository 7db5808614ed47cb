"""Read-only admin view of accounts."""

from django.contrib import admin

from schoolgate.accounts.models import Account
from schoolgate.core.readonly_admin import ReadOnlyAdmin


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["person", "state", "reason", "username", "state_changed_at", "district"]
    list_filter = ["district", "state", "reason"]
    search_fields = ["person__sis_code", "username", "person__family_name"]
    raw_id_fields = ["person", "successor"]
    exclude = ["password_hash"]
