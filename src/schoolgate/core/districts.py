"""Creating a district: the one door for the CLI and the platform operator's console page."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from schoolgate.core import audit
from schoolgate.core.models import District


class DistrictRejected(ValueError):
    """The district cannot be created as asked; the message says why."""


def create_district(slug: str, name: str, *, actor: str) -> District:
    """A new district with the default eligibility rules (its Primary admin is invited separately)."""
    from schoolgate.people.eligibility import install_default_rules  # people sits above core

    if not slug or slugify(slug) != slug:
        raise DistrictRejected(f"slug {slug!r} may hold only lower-case letters, digits, '-' and '_'")
    if not name.strip():
        raise DistrictRejected("the district needs a name")
    try:
        with transaction.atomic():
            district = District.objects.create(slug=slug, name=name.strip())
            install_default_rules(district)
            audit.record(
                district, actor, "district.added", target_type="district", target_id=district.pk,
                target_label=slug, after={"slug": slug, "name": district.name},
            )  # fmt: skip
    except IntegrityError:
        raise DistrictRejected(f"a district {slug!r} already exists") from None
    return district
