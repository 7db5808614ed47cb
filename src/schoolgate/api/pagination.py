"""Cursor pages: an opaque, signed cursor holding the keyset position of the last row shown.

A cursor cannot be forged or edited (django.core.signing), is bound to the listing that issued it (its salt),
and carries only the sort key of a row the client has already seen; the listing still filters by district, so
a cursor never reaches across districts. A page costs the same at the start and deep into a large listing.
"""

from __future__ import annotations

from typing import Any

from django.core import signing
from ninja import Schema

from schoolgate.api.errors import ApiError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class PageInfo(Schema):
    next: str | None = None
    limit: int


def encode(listing: str, position: list[Any]) -> str:
    return signing.dumps(position, salt=f"schoolgate.api.{listing}")


def decode(listing: str, cursor: str | None) -> list[Any] | None:
    """The position a cursor holds, or None for the first page; 400 naming `cursor` when it is not valid."""
    if not cursor:
        return None
    try:
        position = signing.loads(cursor, salt=f"schoolgate.api.{listing}")
    except (signing.BadSignature, ValueError, TypeError):
        position = None
    if not isinstance(position, list):
        raise ApiError(400, "invalid_cursor", "cursor in query is not a cursor this listing issued: "
                       "start again without it", {"field": "cursor"})  # fmt: skip
    return position


def page(rows: list[Any], limit: int, listing: str, key: Any) -> tuple[list[Any], str | None]:
    """Cut one extra row off `rows` (fetched as limit + 1) and make the cursor of the next page from the last."""
    shown = rows[:limit]
    following = encode(listing, key(shown[-1])) if len(rows) > limit else None
    return shown, following
