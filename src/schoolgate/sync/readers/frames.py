"""Vectorised checks and shaping shared by the OneRoster and SDS readers.

Every check is a polars filter over the whole column; only the offending rows (normally none) ever reach
Python, through `ProblemLog.rows`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import polars as pl

from schoolgate.sync.readers.base import PersonKind
from schoolgate.sync.readers.problems import ProblemLog, quote
from schoolgate.sync.readers.spec import KIND_PRECEDENCE

ISO_DATETIME = (
    r"^\d{4}-\d{2}-\d{2}"
    r"(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?(Z|\+00:?00))?$"
)


def require(log: ProblemLog, file: str, frame: pl.DataFrame, column: str, why: str) -> None:
    """Error for each row whose `column` is empty."""
    empty = frame.filter(pl.col(column).is_null()).select("line")
    log.rows("error", file, column, empty, lambda row: f"{column} is empty; {why}")


def unique(log: ProblemLog, file: str, frame: pl.DataFrame, column: str, what: str = "sourcedId") -> None:
    """Error for every repeat of a value of `column`, naming the line that used it first."""
    values = frame.get_column(column).drop_nulls()
    # Fast path: distinct hashes prove distinct values; only a (rare) hash collision or a real repeat
    # takes the exact path below.
    if not values.hash().is_duplicated().any():
        return
    repeats = (
        frame.select("line", column)
        .filter(pl.col(column).is_not_null() & pl.col(column).is_duplicated())
        .with_columns(first=pl.col("line").min().over(column))
        .filter(pl.col("line") != pl.col("first"))
        .sort("line")
    )
    log.rows(
        "error",
        file,
        column,
        repeats,
        lambda row: (
            f"{what} {quote(row[column])} is already used on line {row['first']}; each row needs its own."
        ),
    )


def one_of(
    log: ProblemLog,
    file: str,
    frame: pl.DataFrame,
    column: str,
    allowed: Iterable[str],
    *,
    ignore_case: bool = False,
) -> None:
    """Error for each non-empty value of `column` outside `allowed`."""
    allowed = sorted(allowed)
    value = pl.col(column).str.to_lowercase() if ignore_case else pl.col(column)
    listed = [a.lower() for a in allowed] if ignore_case else allowed
    bad = frame.filter(pl.col(column).is_not_null() & ~value.is_in(listed)).select("line", column)
    expected = " or ".join(f"'{a}'" for a in allowed) if len(allowed) <= 3 else ", ".join(allowed)
    log.rows(
        "error",
        file,
        column,
        bad,
        lambda row: f"{column} is {quote(row[column])}; expected {expected}.",
    )


def datetime_check(log: ProblemLog, file: str, frame: pl.DataFrame, column: str) -> None:
    """Error for each non-empty value that is not an ISO 8601 UTC datetime or a date."""
    value = pl.col(column)
    valid = (
        value.str.contains(ISO_DATETIME)
        & value.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False).is_not_null()
    )
    bad = frame.filter(value.is_not_null() & ~valid).select("line", column)
    log.rows(
        "error",
        file,
        column,
        bad,
        lambda row: (
            f"{column} is {quote(row[column])}; expected an ISO 8601 UTC date-time such as "
            f"'2024-03-01T08:30:00.000Z', or a date such as '2024-03-01'."
        ),
    )


# Values that need list clean-up: a space or comma at either end, a space next to a comma, an empty entry.
_UNTIDY_LIST = r"^[ \t,]|[ \t,]$|[ \t],|,[ \t]|,,"


def id_list(column: str) -> pl.Expr:
    """A comma-separated id list as a list: spaces stripped, empty entries dropped, repeats removed."""
    item = pl.element().str.strip_chars(" \t")
    return pl.col(column).str.split(",").list.eval(item.filter(item != "")).list.unique(maintain_order=True)


def explode_ids(frame: pl.DataFrame, column: str, keep: list[str]) -> pl.DataFrame:
    """One row per id in the comma-separated `column`: the `keep` columns (which must include `line`),
    `value`, and `first` (the id was listed first on its line).

    Most rows of most files hold a single id, and most lists are tidy ("a,b"): the cheaper paths below skip
    the list machinery, or the per-item trimming, when no row needs it.
    """
    values = pl.col(column)
    if not frame.select(values.str.contains(",", literal=True).any()).item():
        value = values.str.strip_chars(" \t")
        return frame.select(*keep, value=value, first=pl.lit(True)).filter(
            pl.col("value").is_not_null() & (pl.col("value") != "")
        )
    if frame.select(values.str.contains(_UNTIDY_LIST).any()).item():
        ids = id_list(column)
    else:
        ids = values.str.split(",").list.unique(maintain_order=True)
    exploded = frame.select(*keep, value=ids).explode("value").filter(pl.col("value").is_not_null())
    # explode keeps each list's order and its rows together, so an item is first when its line changes.
    return exploded.with_columns(first=(pl.col("line") != pl.col("line").shift(1)).fill_null(True))


def tidy_list(frame: pl.DataFrame, column: str) -> pl.Expr:
    """`column` as a tidy comma-joined list ('09,10'): spaces and empty entries removed; null when empty."""
    if not frame.select(pl.col(column).str.contains(_UNTIDY_LIST).any()).item():
        return pl.col(column)
    items = pl.element().str.strip_chars(" \t")
    listed = pl.col(column).str.split(",").list.eval(items.filter(items != ""))
    return pl.when(listed.list.len() > 0).then(listed.list.join(","))


def kind_of(role: pl.Expr, mapping: Mapping[str, PersonKind | None]) -> pl.Expr:
    """The PersonKind value of each role by `mapping`; null for roles that give no kind."""
    values = {role: kind.value for role, kind in mapping.items() if kind is not None}
    return role.replace_strict(values, default=None, return_dtype=pl.Utf8)


def kinds_by_person(pairs: pl.DataFrame) -> pl.DataFrame:
    """Per person: `roles` (sorted distinct, comma-joined) and `kind` by precedence student > staff > contact.

    `pairs` has one row per (person_code, role, kind); kind may be null (a role that gives no kind still
    counts in `roles`). The same role name can give different kinds in different files (SDS "other" is a
    staff role in roles.csv but a contact's relationship in relationships.csv), hence kind per pair.
    """
    rank = {kind.value: i for i, kind in enumerate(KIND_PRECEDENCE)}
    by_rank = {i: kind.value for i, kind in enumerate(KIND_PRECEDENCE)}
    return (
        pairs.lazy()
        .with_columns(rank=pl.col("kind").replace_strict(rank, default=None, return_dtype=pl.Int64))
        .group_by("person_code")
        .agg(roles=pl.col("role").unique().sort().str.join(","), rank=pl.col("rank").min())
        .select(
            "person_code",
            "roles",
            kind=pl.col("rank").replace_strict(by_rank, default=None, return_dtype=pl.Utf8),
        )
        .collect()
    )


def shape(frame: pl.DataFrame, layout: Mapping[str, pl.DataType], **values: pl.Expr) -> pl.DataFrame:
    """Exactly the contract's columns, in order and type; columns in neither `values` nor `frame` are null."""
    exprs = []
    for name, dtype in layout.items():
        if name in values:
            expr = values[name]
        elif name in frame.columns:
            expr = pl.col(name)
        else:
            expr = pl.lit(None)
        exprs.append(expr.cast(dtype).alias(name))
    return frame.select(exprs)
