"""Read-only admin views of people, links and eligibility rules."""

from django.contrib import admin

from schoolgate.core.readonly_admin import ReadOnlyAdmin
from schoolgate.people.models import EligibilityRule, Link, Person


@admin.register(Person)
class PersonAdmin(ReadOnlyAdmin):
    list_display = ["sis_code", "display_name", "kind", "roles", "enabled", "in_sis", "district"]
    list_filter = ["district", "kind", "in_sis"]
    search_fields = ["sis_code", "family_name", "given_name", "email"]


@admin.register(Link)
class LinkAdmin(ReadOnlyAdmin):
    list_display = ["student", "contact", "relationship", "portal_flag", "flag_rule", "in_sis"]
    list_filter = ["district", "relationship", "portal_flag", "in_sis"]
    raw_id_fields = ["student", "contact"]


@admin.register(EligibilityRule)
class EligibilityRuleAdmin(ReadOnlyAdmin):
    list_display = ["district", "audience", "position", "name", "effect", "conditions"]
    list_filter = ["district", "audience"]
