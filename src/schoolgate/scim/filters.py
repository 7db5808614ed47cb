"""SCIM filters (RFC 7644 §3.4.2.2) on Users, translated to database conditions.

scim2-models parses the filter; this module walks its tree and builds a Django `Q` over accounts, so a filter
runs in SQL on the district's accounts instead of loading them. Only attributes with a column behind them
are filterable; any other attribute is refused with `invalidFilter` naming it, rather than matching nothing.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from scim2_models import InvalidFilterException, ScimFilter
from scim2_models.path.expressions import (
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

from schoolgate.accounts.models import AccountState
from schoolgate.core.numbers import whole_number
from schoolgate.scim.schemas import EXTENSION_SCHEMA, USER_SCHEMA

ACTIVE_STATES = (AccountState.INVITED, AccountState.ACTIVE)

# Lower-cased SCIM attribute path → (ORM lookup on an Account annotated with `scim_user_name`, case exact?).
STRING_FIELDS: dict[str, tuple[str, bool]] = {
    "username": ("scim_user_name", False),
    "externalid": ("scim_link__external_id", True),
    "emails": ("person__email", False),
    "emails.value": ("person__email", False),
    "name.familyname": ("person__family_name", False),
    "name.givenname": ("person__given_name", False),
    "kind": ("person__kind", False),
    "siscode": ("person__sis_code", True),
    "state": ("state", False),
    "reason": ("reason", False),
}

_LOOKUPS = {
    CompareOperator.eq: "exact",
    CompareOperator.co: "contains",
    CompareOperator.sw: "startswith",
    CompareOperator.ew: "endswith",
    CompareOperator.gt: "gt",
    CompareOperator.ge: "gte",
    CompareOperator.lt: "lt",
    CompareOperator.le: "lte",
}


# A search names a few attributes. Thousands of terms joined by `or` only build a query that SQLite refuses
# (its expression tree is at most 1,000 deep: a 500) or that PostgreSQL runs at no bounded cost.
MAX_TERMS = 50


def parse(expression: str) -> FilterNode:
    """The filter's tree; a syntax error or too many comparisons raises InvalidFilterException (400)."""
    tree = ScimFilter(expression).ast
    if _terms(tree) > MAX_TERMS:
        raise InvalidFilterException(detail=f"the filter has more than {MAX_TERMS} comparisons")
    return tree


def _terms(node: FilterNode) -> int:
    """How many comparisons (and presence tests) a filter tree holds."""
    if isinstance(node, LogicalExpr):
        return sum(_terms(term) for term in node.terms)
    if isinstance(node, Not):
        return _terms(node.expr)
    if isinstance(node, ValuePath):
        return _terms(node.val_filter)
    return 1


def _key(attr_path: Any, sub: str | None = None) -> str:
    uri = (attr_path.uri or "").lower()
    if uri and uri not in (USER_SCHEMA.lower(), EXTENSION_SCHEMA.lower()):
        raise InvalidFilterException(detail=f"unknown schema {attr_path.uri!r} in the filter")
    name = attr_path.attr.lower()
    sub_attr = sub or attr_path.sub_attr
    return f"{name}.{sub_attr.lower()}" if sub_attr else name


def _compare(key: str, op: CompareOperator, value: Any) -> Q:
    if key == "active":
        if op not in (CompareOperator.eq, CompareOperator.ne) or not isinstance(value, bool):
            raise InvalidFilterException(detail="active compares only with eq or ne and true or false")
        q = Q(state__in=ACTIVE_STATES)
        return q if value == (op == CompareOperator.eq) else ~q
    if key == "id":
        if op not in (CompareOperator.eq, CompareOperator.ne):
            raise InvalidFilterException(detail="id compares only with eq or ne")
        # Only ASCII digits name an id ("²" or "٣" pass str.isdigit()); no id is a condition no row meets,
        # whose negation (`ne`, `not`) every row meets.
        number = whole_number(str(value))
        q = Q(pk=number) if number is not None else Q(pk__in=[])
        return q if op == CompareOperator.eq else ~q
    if key not in STRING_FIELDS:
        raise InvalidFilterException(
            detail=f"cannot filter on {key!r}: filterable attributes are id, active, "
            + ", ".join(sorted(STRING_FIELDS))
        )
    if not isinstance(value, str):
        raise InvalidFilterException(detail=f"{key} compares with a string, not {value!r}")
    field, case_exact = STRING_FIELDS[key]
    if op == CompareOperator.ne:
        return ~Q(**{f"{field}__{'exact' if case_exact else 'iexact'}": value})
    lookup = _LOOKUPS[op]
    if not case_exact and lookup in ("exact", "contains", "startswith", "endswith"):
        lookup = "i" + lookup
    return Q(**{f"{field}__{lookup}": value})


def _present(key: str) -> Q:
    if key in ("active", "id", "username"):
        # Every User has them: a condition every row meets, so that `not (… pr)` is one none meets. An empty
        # Q() would not do: it is no condition at all, and so is its negation (every User again).
        return Q(pk__isnull=False)
    if key not in STRING_FIELDS:
        raise InvalidFilterException(detail=f"cannot filter on {key!r}")
    field = STRING_FIELDS[key][0]
    return Q(**{f"{field}__isnull": False}) & ~Q(**{field: ""})


def to_q(node: FilterNode, within: str | None = None) -> Q:
    """The condition a filter tree stands for, on Account rows annotated with `scim_user_name`."""
    if isinstance(node, LogicalExpr):
        parts = [to_q(term, within) for term in node.terms]
        result = parts[0]
        for part in parts[1:]:
            result = result & part if node.op == LogicalOperator.and_ else result | part
        return result
    if isinstance(node, Not):
        return ~to_q(node.expr, within)
    if isinstance(node, Comparison):
        key = _key(node.attr_path)
        return _compare(f"{within}.{key}" if within else key, node.op, node.value)
    if isinstance(node, Present):
        key = _key(node.attr_path)
        return _present(f"{within}.{key}" if within else key)
    if isinstance(node, ValuePath):
        # emails[value co "x"]: the sub-filter applies to the one e-mail a person has.
        return to_q(node.val_filter, _key(node.attr_path))
    raise InvalidFilterException(detail=f"unsupported filter expression {node}")
