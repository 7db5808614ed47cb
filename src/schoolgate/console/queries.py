"""Reads for console pages that must stay fast at millions of rows.

The account list is paged by keyset, not offset: the page after (family name, given name, code) of the last row
shown. Every query filters by district first and walks an index in the same order it sorts, so page 1 and
page 20,000 cost the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core import signing
from django.db.models import QuerySet, Value
from django.db.models.functions import Upper

from schoolgate.accounts.models import Account
from schoolgate.accounts.queries import InvalidCursor, account_queryset
from schoolgate.accounts.usernames import username_key
from schoolgate.core import sql
from schoolgate.core.models import District
from schoolgate.people.models import Membership, Person

CURSOR_SALT = "schoolgate.console.accounts"
MAX_PER_PAGE = 200
ORDER = (Upper("person__family_name"), Upper("person__given_name"), "person__sis_code")


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


def matching(
    district: District, filters: Filters, within: QuerySet[Person] | None = None
) -> QuerySet[Account]:
    """Every account the filters select (also what "select every match" acts on), among the people `within`
    (a school admin's scope) when given."""
    qs = account_queryset(district, state=filters.state, kind=filters.kind, reason=filters.reason)
    if within is not None:
        qs = qs.filter(person__in=within.values("pk"))
    # The person's district too (the same district, always): it lets the database walk the person name index
    # (district, UPPER(family_name), UPPER(given_name), sis_code) in page order and stop after one page.
    qs = qs.filter(person__district=district)
    if filters.school:
        # A school's people are few: name them first, so the database sorts those few rather than walking the
        # whole district's name index looking for them.
        people = Membership.objects.filter(district=district, school__sis_code=filters.school)
        qs = qs.filter(person_id__in=list(people.values_list("person_id", flat=True).distinct()))
    q = filters.q
    if not q:
        return qs
    if "@" in q:
        return qs.filter(person__email__iexact=q)
    # A SIS code or a username is exact, each answered by its own unique index; anything else is the start of
    # a family name, or "Family, Given", a range of the name index. (One OR across them would defeat the indexes.)
    for exact in (qs.filter(person__sis_code=q), qs.filter(username_key=username_key(q))):
        if exact.exists():
            return exact
    if "," in q:
        # "Family, Given", as the list shows names: the whole family name and the start of the given name (one
        # range of the name index).
        family, _, given = (part.strip() for part in q.partition(","))
        qs = _name_starts(qs, "person__family_name", family, whole=True)
        return _name_starts(qs, "person__given_name", given) if given else qs
    return _name_starts(qs, "person__family_name", q)


def _name_starts(qs: QuerySet[Account], field: str, text: str, *, whole: bool = False) -> QuerySet[Account]:
    """The accounts whose name `field` starts with `text` (or, `whole`, is it), in any letter case."""
    name = field.rsplit("__", 1)[-1]
    if not text.isascii():
        # Python's str.upper() and the engines' UPPER() disagree beyond ASCII (SQLite's folds ASCII letters
        # only), so both sides go through the same function. Not an index range; still within the district.
        lookup = "exact" if whole else "startswith"
        return qs.alias(**{f"{name}_folded": sql.UnicodeUpper(field)}).filter(
            **{f"{name}_folded__{lookup}": sql.UnicodeUpper(Value(text))}
        )
    key = text.upper()
    qs = qs.alias(**{f"{name}_upper": Upper(field)})
    if whole:
        return qs.filter(**{f"{name}_upper": key})
    qs = qs.filter(**{f"{name}_upper__startswith": key})
    if key.isalnum():
        # PostgreSQL turns LIKE 'SMIT%' into an index range only under the C collation; stating the range
        # ['SMIT', 'SMIU') lets it scan just those entries of the name index under any collation (for plain
        # letters and digits, where collation order and code-point order agree). LIKE still decides.
        qs = qs.filter(**{f"{name}_upper__gte": key, f"{name}_upper__lt": key[:-1] + chr(ord(key[-1]) + 1)})
    return qs


def account_page(
    district: District,
    filters: Filters,
    after: str | None,
    per_page: int = 50,
    within: QuerySet[Person] | None = None,
) -> Page:
    """One page of the filtered accounts in name order, and the cursor of the next page."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    # The sort keys as the database computed them: the next page's cursor must compare with the ORDER BY's own
    # values (Python's str.upper() differs from SQLite's and PostgreSQL's UPPER() beyond ASCII, and a cursor
    # built with it repeated or skipped rows around names such as Müller or Straße).
    qs = (
        matching(district, filters, within)
        .select_related("person")
        .annotate(page_family=ORDER[0], page_given=ORDER[1])
        .order_by(*ORDER)
    )
    if after:
        try:
            family, given, code = signing.loads(after, salt=CURSOR_SALT)
        except (signing.BadSignature, ValueError, TypeError):
            raise InvalidCursor(
                "the page link is not valid any more: start again from the first page"
            ) from None
        # Row-value comparison: one index range scan, where an OR of three conditions might not be.
        qs = qs.extra(
            where=['(UPPER("people_person"."family_name"), UPPER("people_person"."given_name"), "people_person"."sis_code")'
                   " > (%s, %s, %s)"],
            params=[family, given, code],
        )  # fmt: skip
    rows = list(qs[: per_page + 1])
    page = Page(rows=rows[:per_page])
    if len(rows) > per_page:
        last = page.rows[-1]
        page.next_cursor = signing.dumps(
            [last.page_family, last.page_given, last.person.sis_code], salt=CURSOR_SALT
        )
    return page
