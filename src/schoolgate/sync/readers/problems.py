"""Collecting the errors and warnings a reader finds, capped per file so a broken export stays readable."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import polars as pl

from schoolgate.sync.readers.base import Problem

QUOTE_LIMIT = 60


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """A value as shown to a school admin: in quotes, cut to `limit` characters, never multi-line."""
    if value is None:
        return "(empty)"
    text = str(value)
    # Control characters would break a one-line report; show them escaped instead.
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"'{text}'"


class ProblemLog:
    """Errors and warnings in the order found, at most `max_problems` of each kind per file.

    Problems past the cap are only counted; `finish` adds one closing problem per file saying how many more
    there were, so an export with a systematic fault yields a short report instead of a million lines.
    """

    def __init__(self, max_problems: int, tolerant: bool) -> None:
        self.max_problems = max(1, max_problems)
        self.tolerant = tolerant
        self._kept: dict[str, list[Problem]] = {"error": [], "warning": []}
        self._count: dict[tuple[str, str], int] = {}

    # -- adding ----------------------------------------------------------------------------------------

    def _add(self, severity: str, file: str, line: int | None, column: str | None, message: str) -> None:
        key = (severity, file)
        seen = self._count.get(key, 0)
        self._count[key] = seen + 1
        if seen < self.max_problems:
            self._kept[severity].append(Problem(file, line, column, message))

    def error(self, file: str, line: int | None, column: str | None, message: str) -> None:
        self._add("error", file, line, column, message)

    def warning(self, file: str, line: int | None, column: str | None, message: str) -> None:
        self._add("warning", file, line, column, message)

    def deviation(self, file: str, line: int | None, column: str | None, message: str, handling: str) -> None:
        """A known real-world deviation: an error, or when tolerant a warning that says how it was handled."""
        if self.tolerant:
            self.warning(file, line, column, f"{message} Tolerated: {handling}")
        else:
            self.error(file, line, column, message)

    def room(self, severity: str, file: str) -> int:
        """How many more problems of this kind would still be kept for `file`."""
        return max(0, self.max_problems - self._count.get((severity, file), 0))

    def rows(
        self,
        severity: str,
        file: str,
        column: str | None,
        bad: pl.DataFrame,
        message: Callable[[dict[str, Any]], str],
    ) -> int:
        """One problem per row of `bad` (which has a `line` column); returns how many rows there were.

        This is the error path: only the rows that will be kept are turned into Python objects, the rest are
        counted, so a check that fails on every row of a three-million-row file stays cheap.
        """
        total = bad.height
        if not total:
            return 0
        shown = min(total, self.room(severity, file))
        rows: Iterable[dict[str, Any]] = bad.head(shown).iter_rows(named=True) if shown else ()
        for row in rows:
            self._add(severity, file, row["line"], column, message(row))
        key = (severity, file)
        self._count[key] = self._count.get(key, 0) + (total - shown)
        return total

    def deviation_rows(
        self,
        file: str,
        column: str | None,
        bad: pl.DataFrame,
        message: Callable[[dict[str, Any]], str],
        handling: str | Callable[[dict[str, Any]], str],
    ) -> int:
        """`rows` for a known deviation: errors by default, warnings naming the handling if tolerant."""
        if self.tolerant:
            how = handling if callable(handling) else (lambda row: handling)
            return self.rows(
                "warning", file, column, bad, lambda row: f"{message(row)} Tolerated: {how(row)}"
            )
        return self.rows("error", file, column, bad, message)

    # -- reading ---------------------------------------------------------------------------------------

    def has_errors(self, file: str | None = None) -> bool:
        if file is None:
            return any(count for (severity, _), count in self._count.items() if severity == "error")
        return self._count.get(("error", file), 0) > 0

    def finish(self) -> tuple[list[Problem], list[Problem]]:
        """Errors and warnings, sorted by file name and line, with a closing 'N more' problem per file."""
        return self._sorted("error"), self._sorted("warning")

    def _sorted(self, severity: str) -> list[Problem]:
        by_file: dict[str, list[Problem]] = {}
        for problem in self._kept[severity]:
            by_file.setdefault(problem.file, []).append(problem)
        noun = "errors" if severity == "error" else "warnings"
        result: list[Problem] = []
        for file, problems in sorted(by_file.items()):
            # File-wide problems (line None) first, then by line; sorted() is stable, so equal lines keep
            # the order in which the checks found them.
            result.extend(sorted(problems, key=lambda p: p.line or 0))
            more = self._count[(severity, file)] - self.max_problems
            if more > 0:
                result.append(
                    Problem(
                        file,
                        None,
                        None,
                        f"… and {more:,} more {noun} in {file} not listed (only the first "
                        f"{self.max_problems} are shown; fix those and run again).",
                    )
                )
        return result
