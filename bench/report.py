"""Benchmark results, their verdicts against targets, and how they are shown: a terminal table and a dated
Markdown section for BENCHMARKS.md.

Verdicts are computed, never typed: a figure over its target reads "NOT MET" wherever it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rich.console import Console
from rich.table import Table

MET, NOT_MET, NO_TARGET = "met", "NOT MET", "no target"


@dataclass(frozen=True)
class Step:
    """One measured step: wall seconds, the parse time P of the files it read, and peak memory."""

    name: str
    seconds: float
    parse_seconds: float | None = None  # P of the files this step read
    max_ratio: float | None = None  # target: seconds <= max_ratio x P
    peak_rss_mib: float | None = None
    max_rss_mib: float | None = None
    counts: dict | None = None  # what the step reported (e.g. the sync's counts)
    baseline: bool = False  # this row is P itself: no target, nothing to judge

    @property
    def ratio(self) -> float | None:
        if not self.parse_seconds:
            return None
        return self.seconds / self.parse_seconds

    @property
    def time_verdict(self) -> str:
        if self.max_ratio is None or self.ratio is None:
            return NO_TARGET
        return MET if self.ratio <= self.max_ratio else NOT_MET

    @property
    def memory_verdict(self) -> str:
        if self.max_rss_mib is None or self.peak_rss_mib is None:
            return NO_TARGET
        return MET if self.peak_rss_mib <= self.max_rss_mib else NOT_MET


@dataclass
class BenchResult:
    """One benchmark run on one database."""

    benchmark: str
    database: str  # "postgres" | "sqlite"
    n_students: int
    steps: list[Step]
    facts: list[str] = field(default_factory=list)  # bullet lines: data, definitions, setup times
    database_version: str | None = None  # the server's own version string, when there is a server
    # Set when this run is not the configuration the targets are defined for, saying which that is.
    targets_apply_to: str | None = None

    @property
    def all_met(self) -> bool:
        return all(NOT_MET not in (s.time_verdict, s.memory_verdict) for s in self.steps)


TABLE_HEADER = ["step", "seconds", "P (s)", "x P", "target", "time", "peak RSS (MiB)", "memory"]


def table_rows(result: BenchResult) -> list[list[str]]:
    """The table, as strings, in TABLE_HEADER order."""
    rows = []
    for step in result.steps:
        if step.baseline:
            rows.append(
                [step.name, f"{step.seconds:.2f}", f"{step.seconds:.2f}", "1.0", "baseline", "—", "", "—"]
            )
            continue
        rows.append(
            [
                step.name,
                f"{step.seconds:.2f}",
                "" if step.parse_seconds is None else f"{step.parse_seconds:.2f}",
                "" if step.ratio is None else f"{step.ratio:.1f}",
                "none" if step.max_ratio is None else f"≤ {step.max_ratio:g}x P",
                step.time_verdict,
                "" if step.peak_rss_mib is None else f"{step.peak_rss_mib:.0f}",
                NO_TARGET if step.max_rss_mib is None else f"{step.memory_verdict} (≤ {step.max_rss_mib:g})",
            ]
        )
    return rows


def database_label(database: str) -> str:
    return {"postgres": "PostgreSQL", "sqlite": "SQLite"}.get(database, database)


def title(result: BenchResult) -> str:
    return f"{result.benchmark} — {database_label(result.database)}, {result.n_students:,} students"


def markdown_section(result: BenchResult, when: datetime, command: str, machine: dict[str, str]) -> str:
    """A dated BENCHMARKS.md section: when, on what, the exact command, the table and the facts."""
    lines = [
        f"## {when:%Y-%m-%d %H:%M} UTC — {title(result)}",
        "",
        f"- Command: `{command}`",
        f"- Machine: {machine['cores']} cores ({machine['cpu']}), {machine['ram']} RAM, {machine['os']}",
        f"- Software: Python {machine['python']}, polars {machine['polars']}"
        + (
            f", {database_label(result.database)} {result.database_version}"
            if result.database_version
            else ""
        ),
        f"- Code: git {machine['git']}",
        *[f"- {fact}" for fact in result.facts],
        "",
        "| " + " | ".join(TABLE_HEADER) + " |",
        "|" + "|".join(["---", "---:", "---:", "---:", "---", "---", "---:", "---"]) + "|",
        *["| " + " | ".join(row) + " |" for row in table_rows(result)],
        "",
    ]
    if result.targets_apply_to:
        lines += [f"Targets are defined for {result.targets_apply_to}; this run is indicative only.", ""]
    if not result.all_met:
        lines += ["**At least one target was NOT MET in this run.**", ""]
    return "\n".join(lines)


def print_result(result: BenchResult) -> None:
    """The table on the terminal (rich), verdicts coloured."""
    table = Table(title=title(result))
    for i, column in enumerate(TABLE_HEADER):
        table.add_column(column, justify="right" if i in (1, 2, 3, 6) else "left")
    for row in table_rows(result):
        table.add_row(*[_coloured(cell) for cell in row])
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)  # piped or logged: no terminal width to fit, keep rows on one line
    console.print(table)
    for fact in result.facts:
        console.print(f"  • {fact}", highlight=False)
    if result.targets_apply_to:
        console.print(f"  Targets are defined for {result.targets_apply_to}; this run is indicative only.")


def _coloured(cell: str) -> str:
    if cell.startswith(NOT_MET):
        return f"[bold red]{cell}[/]"
    if cell.startswith(MET):
        return f"[green]{cell}[/]"
    return cell
