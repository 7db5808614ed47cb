"""The console benchmark's report: the table's rows and the facts printed under it, from the measured figures.

Runs on the runner side only (console_bench.run_console), on the JSON the `seed` and `measure` children print.
"""

from __future__ import annotations

from console_measure import TARGET_MS, Scenario, percentile, summary
from harness import BenchFailure
from report import Step


def report_steps(plan: list[Scenario], figures: list[dict]) -> tuple[list[Step], list[str], list[Scenario]]:
    """The table's rows (a target row, one per scenario, the overall row), facts per scenario, and misses."""
    target = TARGET_MS / 1000
    steps = [Step(f"target: p95 ≤ {TARGET_MS:g} ms per request", target, baseline=True)]
    facts, missed, worst = [], [], (None, -1.0)
    pooled: list[float] = []
    pauses: list[float] = []
    for scenario, figure in zip(plan, figures, strict=True):
        if figure["key"] != scenario.key:
            raise BenchFailure(f"measured {figure['key']} where {scenario.key} was planned")
        times = figure["times_ms"]
        pooled += times
        p = summary(times)
        step = Step(
            name=f"{scenario.label}: p50 {p['p50']:.1f} / p95 {p['p95']:.1f} / p99 {p['p99']:.1f} ms "
            f"(n={len(times)})",
            seconds=p["p95"] / 1000,
            parse_seconds=target,
            max_ratio=1.0,
            counts={**p, "rows": figure["rows"], "queries": figure["queries"]},
        )
        steps.append(step)
        if step.time_verdict != "met":
            missed.append(scenario)
        if p["p95"] > worst[1]:
            worst = (scenario, p["p95"])
        facts.append(
            f"{scenario.label}: `GET {figure['url']}`, {figure['rows']} accounts on the page; "
            f"{figure['queries']} queries, {figure['sql_ms']:.1f} ms of SQL in a captured request; "
            f"mean {sum(times) / len(times):.1f} ms, max {max(times):.1f} ms over {len(times)} requests"
            + _collections_note(figure["gc_pauses_ms"])
            + "."
        )
        pauses += figure["gc_pauses_ms"]
    p = summary(pooled)
    steps.append(
        Step(
            name=f"overall: the slowest scenario's p95 ({worst[0].label}); all {len(pooled):,} requests "
            f"pooled: p50 {p['p50']:.1f} / p95 {p['p95']:.1f} / p99 {p['p99']:.1f} ms",
            seconds=worst[1] / 1000,
            parse_seconds=target,
            max_ratio=1.0,
        )
    )
    met = len(plan) - len(missed)
    facts.append(
        f"Overall: {met} of {len(plan)} scenarios answer within p95 ≤ {TARGET_MS:g} ms; the slowest p95 is "
        f"{worst[1]:.1f} ms ({worst[0].label}); all {len(pooled):,} timed requests pooled: p50 {p['p50']:.1f}, "
        f"p95 {p['p95']:.1f}, p99 {p['p99']:.1f} ms"
        + (
            f"; the measuring process paused for {len(pauses)} full garbage collections during them "
            f"(median {percentile(pauses, 50):.0f} ms, longest {max(pauses):.0f} ms), which make most of the "
            "slow tail."
            if pauses
            else "."
        )
    )
    return steps, facts, missed


def _collections_note(pauses_ms: list[float]) -> str:
    if not pauses_ms:
        return "; no full garbage collection during them"
    return f"; {len(pauses_ms)} full garbage collections during them, longest {max(pauses_ms):.0f} ms"


def data_fact(seed: int, data: dict) -> str:
    counts, chosen = data["counts"], data["picks"]
    states = ", ".join(f"{state} {n:,}" for state, n in counts["states"].items())
    reasons = ", ".join(f"{reason} {n:,}" for reason, n in counts["reasons"].items())
    top = ", ".join(f"{name} {n:,}" for name, n in chosen["top_families"])
    return (
        f"Data (seed {seed}; the report's 'students' figure is the accounts): district `bench` holds "
        f"{chosen['accounts']:,} accounts, one per person: {counts['kinds']['student']:,} students, "
        f"{counts['kinds']['contact']:,} contacts and {counts['kinds']['staff']:,} staff, in families from "
        f"bench/district.py ({counts['links']:,} student-contact links) with bench/namebank.py names (most "
        f"common family names: {top}); {counts['schools']:,} schools and {counts['memberships']:,} "
        f"memberships; states {states}; revoke reasons {reasons}; {counts['usernames']:,} usernames and "
        f"{counts['invitations']:,} open invitations. Filters match: state=ready_to_revoke "
        f"{chosen['ready_to_revoke']:,}, kind=contact&state=active {chosen['contact_active']:,}, school "
        f"{chosen['school']} {chosen['school_members']:,} people (the largest), family names starting with "
        f"'{chosen['family_prefix']}' {chosen['family_prefix_people']:,} people, the e-mail address "
        f"{chosen['email_people']} person(s)."
    )
