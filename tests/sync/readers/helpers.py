"""Assertions shared by the reader tests."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from schoolgate.sync.readers import Problem, Snapshot

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sis"


def where(problems: list[Problem]) -> list[tuple[str, int | None, str | None]]:
    """(file, line, column) of each problem, in order."""
    return [(p.file, p.line, p.column) for p in problems]


def one(problems: list[Problem], file: str, line: int | None, column: str | None) -> Problem:
    """The single problem at (file, line, column); fails listing all problems otherwise."""
    found = [p for p in problems if (p.file, p.line, p.column) == (file, line, column)]
    assert len(found) == 1, f"expected one problem at {(file, line, column)}, got {found}; all: {problems}"
    return found[0]


def ok(snapshot: Snapshot) -> Snapshot:
    """Assert the snapshot has no errors and matches the contract's layout; returns it."""
    assert snapshot.errors == [], snapshot.errors
    snapshot.check_layout()
    return snapshot


def rows(frame: pl.DataFrame, *columns: str) -> list[tuple]:
    """The frame's rows restricted to `columns`, sorted (order-independent comparisons)."""
    return sorted(frame.select(columns).rows(), key=lambda r: tuple("" if v is None else str(v) for v in r))


def person(snapshot: Snapshot, code: str) -> dict:
    matches = snapshot.people.filter(pl.col("code") == code).to_dicts()
    assert len(matches) == 1, f"{code}: {matches}"
    return matches[0]
