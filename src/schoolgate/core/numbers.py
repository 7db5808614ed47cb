"""Whole numbers typed or sent by someone else: ids in URLs, form fields and headers.

`str.isdigit()` is true for "²" and "٣", which `int()` then refuses or reads as 3: an id check built on it
answers 500, or finds a record under a second spelling of its id. Only ASCII digits name a number here.
"""

from __future__ import annotations

MAX_ID = 2**63 - 1  # the largest id a 64-bit primary key can hold; a larger one names nothing


def whole_number(text: str | None, maximum: int = MAX_ID) -> int | None:
    """`text` as a number when it is 1 to `maximum` written in ASCII digits only; else None."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if 0 < value <= maximum else None
