"""Durations in the words shown to parents and admins: "15 minutes", "1 hour and 30 minutes".

Used wherever a message says how long to wait (the portal's and the console's login lockouts), so that both
say it the same way and neither shows ISO 8601 ("PT15M") or a bare clock time.
"""

from __future__ import annotations

import math
from datetime import timedelta


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}" if number == 1 else f"{number} {unit}s"


def in_words(delta: timedelta) -> str:
    """`delta` in whole minutes, or hours and minutes from one hour on.

    Rounded up: someone told "14 minutes" who tries again then would still be locked out. Never less than
    one minute, since "try again in 0 minutes" reads as "now" while the lock still holds.
    """
    minutes = max(1, math.ceil(delta.total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return _count(minutes, "minute")
    if not minutes:
        return _count(hours, "hour")
    return f"{_count(hours, 'hour')} and {_count(minutes, 'minute')}"
