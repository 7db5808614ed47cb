"""Checks of the console benchmark that need no database: percentiles, reading the page (rows and the next-page
link), the scenario mix, the report's verdicts, and the generated district's shape.

    .venv/bin/pytest -p no:django bench/test_console_bench.py -q
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from console_measure import (
    PER_PAGE,
    AccountPage,
    Scenario,
    allowed_host,
    next_url,
    page_url,
    percentile,
    scenarios,
)
from console_report import report_steps
from console_seed import STATE_SHARES, build_population, picks
from report import MET, NOT_MET

PAGE = """<table><tbody>
  <tr data-account="17"><td>Ann Smith</td></tr>
  <tr data-account="4"><td>Bob Smith</td></tr>
  <tr class="empty"><td>—</td></tr>
</tbody></table>
<nav><a class="prev" href="?after=zzz">previous</a>
<a id="next-page" href="?kind=contact&amp;after=WyJTbWl0aCJd%3A1x">next</a></nav>"""


def test_percentile_interpolates_between_ranks():
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1
    assert percentile(values, 100) == 100
    assert percentile([3.0], 95) == 3.0
    assert percentile([5, 1, 3], 50) == 3  # order of the input does not matter


def test_percentile_refuses_nonsense():
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_page_rows_and_next_link():
    page = AccountPage.parse(PAGE)
    assert page.accounts == [17, 4]
    # The attribute is unescaped (&amp; → &) and the link is found by id, not by position.
    assert page.next_href == "?kind=contact&after=WyJTbWl0aCJd%3A1x"


def test_next_url_resolves_relative_links_against_the_current_page():
    page = AccountPage.parse(PAGE)
    current = "/console/bench/accounts/?kind=contact"
    assert next_url(current, page) == "/console/bench/accounts/?kind=contact&after=WyJTbWl0aCJd%3A1x"
    absolute = AccountPage.parse('<a id="next-page" href="/console/bench/accounts/?after=x">next</a>')
    assert next_url(current, absolute) == "/console/bench/accounts/?after=x"


def test_last_page_has_no_next_link():
    page = AccountPage.parse('<tr data-account="1"></tr><a id="prev">back</a>')
    assert page.accounts == [1]
    assert next_url("/console/bench/accounts/", page) is None


def test_page_url_encodes_searches():
    assert page_url("bench", {}) == "/console/bench/accounts/"
    assert (
        page_url("bench", {"q": "ann.lee+7@example.org"})
        == "/console/bench/accounts/?q=ann.lee%2B7%40example.org"
    )


def test_allowed_host_skips_wildcards():
    assert allowed_host(["127.0.0.1", "localhost"]) == "127.0.0.1"
    assert allowed_host(["*"]) == "localhost"
    assert allowed_host([".example.org"]) == "example.org"


CHOSEN = {
    "school": "sch-0007",
    "school_members": 30,
    "family_prefix": "smit",
    "sis_code": "con-00000042",
    "email": "ann.lee+42@example.org",
    "ready_to_revoke": 500,
    "contact_active": 4000,
}


def test_the_mix_is_the_issue_s():
    plan = scenarios(CHOSEN)
    params = {s.key: s.params for s in plan}
    assert params == {
        "first": {},
        "ready_to_revoke": {"state": "ready_to_revoke"},
        "contact_active": {"kind": "contact", "state": "active"},
        "school": {"school": "sch-0007"},
        "family_prefix": {"q": "smit"},
        "sis_code": {"q": "con-00000042"},
        "email": {"q": "ann.lee+42@example.org"},
        "page": {},
    }
    by_key = {s.key: s for s in plan}
    assert by_key["page"].follow == 19  # page 20
    assert by_key["school"].min_rows == 30  # a small school fills less than a page
    assert by_key["first"].min_rows == PER_PAGE
    assert all(s.follow == 0 for s in plan if s.key != "page")


def figure(key: str, times: list[float]) -> dict:
    return {
        "key": key,
        "url": f"/x?{key}",
        "rows": 50,
        "times_ms": times,
        "queries": 6,
        "sql_ms": 3.0,
        "gc_pauses_ms": [80.0] if key == "slow" else [],
    }


def test_steps_judge_each_scenario_and_the_worst():
    plan = [Scenario("fast", "fast"), Scenario("slow", "slow")]
    fast = [10.0] * 100
    slow = [50.0] * 90 + [150.0] * 10  # p95 = 150 ms
    steps, facts, missed = report_steps(plan, [figure("fast", fast), figure("slow", slow)])
    assert steps[0].baseline and steps[0].seconds == pytest.approx(0.1)
    assert [s.time_verdict for s in steps[1:]] == [MET, NOT_MET, NOT_MET]
    assert steps[2].seconds == pytest.approx(0.15)
    assert "p95 150.0 /" in steps[2].name
    assert steps[-1].name.startswith("overall: the slowest scenario's p95 (slow)")
    assert missed == [plan[1]]
    assert facts[-1].startswith("Overall: 1 of 2 scenarios answer within p95 ≤ 100 ms")
    assert "1 full garbage collections" in facts[1] and "no full garbage collection" in facts[0]
    assert "longest 80 ms" in facts[-1]


def test_full_collections_are_timed_only_while_active():
    import gc

    from console_measure import FullCollections

    collections = FullCollections()
    gc.callbacks.append(collections)
    try:
        gc.collect()
        assert collections.pauses_ms == []
        collections.active = True
        gc.collect()  # a full collection
        gc.collect(0)  # a young one: not counted
    finally:
        gc.callbacks.remove(collections)
    assert len(collections.pauses_ms) == 1 and collections.pauses_ms[0] >= 0


def test_steps_at_the_target_meet_it():
    steps, _, missed = report_steps([Scenario("edge", "edge")], [figure("edge", [100.0] * 20)])
    assert [s.time_verdict for s in steps[1:]] == [MET, MET]
    assert missed == []


def test_steps_refuse_mismatched_figures():
    from harness import BenchFailure

    with pytest.raises(BenchFailure):
        report_steps([Scenario("a", "a")], [figure("b", [1.0])])


def test_generated_district_has_data_for_every_filter():
    population = build_population(6000, 7, datetime(2026, 1, 1))
    people, accounts = population.people, population.accounts
    assert people.height == accounts.height == 6000
    assert people["sis_code"].n_unique() == 6000
    kinds = dict(people["kind"].value_counts().iter_rows())
    assert kinds["contact"] > kinds["student"] > kinds["staff"] > 0
    assert set(accounts["state"]) == set(STATE_SHARES)
    revoking = accounts.filter(pl.col("state").is_in(["ready_to_revoke", "revoked"]))
    assert (revoking["reason"] != "").all()
    assert (accounts.filter(~pl.col("state").is_in(["ready_to_revoke", "revoked"]))["reason"] == "").all()
    # Usernames on active and ready-to-revoke accounts only, unique, never an e-mail address.
    holders = accounts.filter(pl.col("username").is_not_null())
    assert set(holders["state"]) == {"active", "ready_to_revoke"}
    assert holders["username"].n_unique() == holders.height
    assert not holders["username"].str.contains("@").any()
    assert (accounts.filter(pl.col("state") == "revoked")["password_hash"] == "").all()
    assert set(population.memberships["sis_code"]) == set(people["sis_code"])
    assert population.schools.filter(pl.col("org_type") == "school").height == round(6000 / 625)

    chosen = picks(population)
    assert chosen["school_members"] > 0 and chosen["family_prefix_people"] > 0
    assert chosen["email_people"] >= 1
    assert chosen["sis_code"] in set(people["sis_code"])
    # Built again from the same seed, the same data.
    again = build_population(6000, 7, datetime(2026, 1, 1))
    assert again.people.equals(people)
