"""Whole numbers from untrusted text: only ASCII digits, within a primary key's range."""

import pytest

from schoolgate.core.numbers import MAX_ID, whole_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("0042", 42),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),
        ("0", None),
        ("", None),
        (None, None),
        ("-1", None),
        ("1.0", None),
        (" 1", None),
        ("²", None),  # isdigit() is true, int() refuses it
        ("٣", None),  # isdigit() is true, int() reads it as 3: a second spelling of id 3
        ("abc", None),
    ],
)
def test_whole_number(text, expected):
    assert whole_number(text) == expected


def test_whole_number_maximum():
    assert whole_number("10", maximum=9) is None
    assert whole_number("9", maximum=9) == 9
