"""Durations in the words shown to parents and admins ("15 minutes"), never ISO 8601 ("PT15M")."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schoolgate.core.durations import in_words


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(minutes=15), "15 minutes"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(minutes=14, seconds=1), "15 minutes"),  # rounded up: never promise less than the wait
        (timedelta(seconds=30), "1 minute"),
        (timedelta(milliseconds=1), "1 minute"),
        (timedelta(0), "1 minute"),  # never "0 minutes"
        (timedelta(seconds=-5), "1 minute"),
        (timedelta(minutes=59, seconds=30), "1 hour"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(minutes=90), "1 hour and 30 minutes"),
        (timedelta(minutes=61), "1 hour and 1 minute"),
        (timedelta(hours=2), "2 hours"),
        (timedelta(hours=2, minutes=5), "2 hours and 5 minutes"),
        (timedelta(days=1), "24 hours"),
    ],
)
def test_in_words(delta, words):
    assert in_words(delta) == words
