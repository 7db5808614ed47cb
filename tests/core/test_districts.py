"""A district's slug is its name in every URL: refused when it could not be reached there."""

from __future__ import annotations

import pytest
from django.urls import URLPattern

from schoolgate.console.urls import urlpatterns
from schoolgate.core.districts import RESERVED_SLUGS, DistrictRejected, create_district
from schoolgate.core.models import District


def test_reserved_slugs_are_every_fixed_console_path():
    """A fixed page at the level of /console/<slug>/ would shadow a district of that name (or its pages)."""
    fixed = {
        str(p.pattern).split("/")[0]
        for p in urlpatterns
        if isinstance(p, URLPattern) and not str(p.pattern).startswith("<") and str(p.pattern)
    }
    assert fixed == RESERVED_SLUGS


@pytest.mark.django_db
@pytest.mark.parametrize("slug", sorted(RESERVED_SLUGS))
def test_a_console_page_name_is_refused_as_a_slug(slug):
    with pytest.raises(DistrictRejected, match="console page"):
        create_district(slug, "Some District", actor="test")
    assert not District.objects.filter(slug=slug).exists()


@pytest.mark.django_db
def test_an_ordinary_slug_is_accepted():
    assert create_district("security-high", "Security High", actor="test").slug == "security-high"
