"""Reads for console pages that must stay fast at millions of rows.

The account list is paged by keyset, not offset: the page after (family name, given name, code) of the last row
shown. Every query filters by district first and walks an index in the same order it sorts, so page 1 and
page 20,000 cost the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core import signing
from django.db.models import QuerySet

from schoolgate.accounts.models import Account
from schoolgate.accounts.queries import InvalidFilter, account_queryset
from schoolgate.accounts.usernames import username_key
from schoolgate.core.models import District

CURSOR_SALT = "schoolgate.console.accounts"
MAX_PER_PAGE = 200
ORDER = ("person__family_name", "person__given_name", "person__sis_code")


@dataclass
class Filters:
    kind: str | None = None
    state: str | None = None
    reason: str | None = None
    school: str | None = None
    q: str = ""

    @classmethod
    def from_query(cls, params: Any) -> Filters:
        def get(name: str) -> str | None:
            value = (params.get(name) or "").strip()
            return value or None

        return cls(get("kind"), get("state"), get("reason"), get("school"), (params.get("q") or "").strip())

    def as_query(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass
class Page:
    rows: list[Account] = field(default_factory=list)
    next_cursor: str | None = None


def matching(district: District, filters: Filters) -> QuerySet[Account]:
    """Every account the filters select (also what "select every match" acts on)."""
    qs = account_queryset(district, state=filters.state, kind=filters.kind, reason=filters.reason)
    if filters.school:
        qs = qs.filter(person__memberships__school__sis_code=filters.school)
    q = filters.q
    if q:
        if "@" in q:
            qs = qs.filter(person__email__iexact=q)
        else:
            # A code or username is exact and indexed; otherwise the start of a family name.
            exact = qs.filter(person__sis_code=q) | qs.filter(username_key=username_key(q))
            qs = exact if exact.exists() else qs.filter(person__family_name__istartswith=q)
    return qs


def account_page(district: District, filters: Filters, after: str | None, per_page: int = 50) -> Page:
    """One page of the filtered accounts in name order, and the cursor of the next page."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    qs = matching(district, filters).select_related("person").order_by(*ORDER)
    if after:
        try:
            family, given, code = signing.loads(after, salt=CURSOR_SALT)
        except (signing.BadSignature, ValueError, TypeError):
            raise InvalidFilter(
                "the page link is not valid any more: start again from the first page"
            ) from None
        # Row-value comparison: one index range scan, where an OR of three conditions might not be.
        qs = qs.extra(
            where=['("people_person"."family_name", "people_person"."given_name", "people_person"."sis_code")'
                   " > (%s, %s, %s)"],
            params=[family, given, code],
        )  # fmt: skip
    rows = list(qs[: per_page + 1])
    page = Page(rows=rows[:per_page])
    if len(rows) > per_page:
        last = page.rows[-1].person
        page.next_cursor = signing.dumps([last.family_name, last.given_name, last.sis_code], salt=CURSOR_SALT)
    return page
