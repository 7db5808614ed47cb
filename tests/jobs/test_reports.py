"""The PDF report draws every name: as written where the bundled font has its letters, transliterated where it
does not (a missing glyph prints as nothing)."""

from __future__ import annotations

import pytest

from schoolgate.jobs.reports import _pdf_text


@pytest.mark.parametrize(
    ("name", "drawn"),
    [
        ("Жанна Müller-Straße", "Жанна Müller-Straße"),  # in the font: as written
        ("Ελένη Ø'Brien", "Ελένη Ø'Brien"),
        ("Dhruv पटेल", "Dhruv ptel"),  # Devanagari is not in DejaVu Sans: transliterated, not dropped
        ("José 王", "Jose Wang"),
        (None, ""),
    ],
)
def test_names_are_drawn_or_transliterated(name, drawn):
    assert _pdf_text(name) == drawn
