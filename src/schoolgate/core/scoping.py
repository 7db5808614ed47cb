"""District scoping: every lookup names its district.

Entry points resolve the district once (from the command line, the admin's session or the API token) and
then only use these helpers or querysets filtered by it; a lookup by id alone is never done.
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet

from schoolgate.core.models import District

M = TypeVar("M", bound=Model)


class UnknownDistrict(LookupError):
    """No district has that slug."""


def get_district(slug: str) -> District:
    """The district with this slug, or UnknownDistrict with a message an admin can act on."""
    try:
        return District.objects.get(slug=slug)
    except District.DoesNotExist:
        known = ", ".join(District.objects.values_list("slug", flat=True)[:20]) or "none yet"
        raise UnknownDistrict(f"no district {slug!r} (known: {known})") from None


def in_district(queryset: QuerySet[M], district: District) -> QuerySet[M]:
    """The queryset restricted to one district."""
    return queryset.filter(district=district)
