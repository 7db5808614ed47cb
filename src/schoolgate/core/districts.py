"""Creating a district: the one door for the CLI and the platform operator's console page."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from schoolgate.core import audit
from schoolgate.core.models import District


class DistrictRejected(ValueError):
    """The district cannot be created as asked; the message says why."""


# The console serves a district under /console/<slug>/ beside its own pages: a district named like one of
# them could never be reached (its dashboard would be the admin's security page). Kept in step with
# console/urls.py by a test.
RESERVED_SLUGS = frozenset({"login", "logout", "invitation", "security", "switch", "operator"})


def create_district(slug: str, name: str, *, actor: str) -> District:
    """A new district with the default eligibility rules (its Primary admin is invited separately)."""
    from schoolgate.people.eligibility import install_default_rules  # people sits above core

    if not slug or slugify(slug) != slug:
        raise DistrictRejected(f"slug {slug!r} may hold only lower-case letters, digits, '-' and '_'")
    if slug in RESERVED_SLUGS:
        raise DistrictRejected(
            f"slug {slug!r} is the name of a console page; choose another (not {', '.join(sorted(RESERVED_SLUGS))})"
        )
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
