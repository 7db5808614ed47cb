"""The console benchmark's measurement: the scenarios, reading the account page, and timing the requests.

The first half is plain Python shared by the runner and the measuring child: the `Scenario` mix, percentiles,
and reading the page's account rows and next-page link. The second half runs in the `measure` child process
(console_bench.py measure …): `measure` logs the district's Primary admin in, checks each scenario's page,
times its requests with Django's test Client and writes one request's SQL and plans per scenario.
"""

from __future__ import annotations

import gc
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urljoin

from usernames_bench import _setup_django

TARGET_MS = 100.0
REQUESTS, WARMUP = 200, 10
# A scenario far over the target would take most of an hour at 200 requests (1.5 s each at 1,000,000 accounts
# before the console's indexes were right). Once it has spent this long it stops, though never before
# MIN_REQUESTS: enough to place a p95 that is many times the target, and every figure says how many it ran.
SCENARIO_BUDGET_S, MIN_REQUESTS = 60.0, 50
PER_PAGE = 50  # the page's default `per_page`
LAST_PAGE = 20  # the deep-pagination scenario measures this page, reached by following next-page links
STAFF_USER = "bench-admin"


# ---- the scenarios and the figures: plain Python, shared by the runner and the measuring child -----------


@dataclass(frozen=True)
class Scenario:
    """One request the account list must answer in time."""

    key: str  # file names and JSON
    label: str  # the report's step name
    params: dict[str, str] = field(default_factory=dict)  # the query string
    follow: int = 0  # next-page links to follow before the measured request
    # The page must list at least this many accounts, and every one must satisfy `check` (Account lookups):
    # an empty or wrong page would be timed but would prove nothing.
    min_rows: int = 1
    check: dict[str, str] = field(default_factory=dict)


def scenarios(chosen: dict) -> list[Scenario]:
    """The realistic mix of the issue: browsing, filtering, searching and paging deep."""
    school, prefix, code, email = (
        chosen["school"],
        chosen["family_prefix"],
        chosen["sis_code"],
        chosen["email"],
    )
    return [
        Scenario("first", "first page, unfiltered", min_rows=PER_PAGE),
        Scenario(
            "ready_to_revoke",
            "state=ready_to_revoke",
            {"state": "ready_to_revoke"},
            min_rows=min(PER_PAGE, chosen["ready_to_revoke"]),
            check={"state": "ready_to_revoke"},
        ),
        Scenario(
            "contact_active",
            "kind=contact&state=active",
            {"kind": "contact", "state": "active"},
            min_rows=min(PER_PAGE, chosen["contact_active"]),
            check={"state": "active", "person__kind": "contact"},
        ),
        Scenario(
            "school",
            f"school={school}",
            {"school": school},
            min_rows=min(PER_PAGE, chosen["school_members"]),
            check={"person__memberships__school__sis_code": school},
        ),
        Scenario("family_prefix", f"q={prefix} (start of a family name)", {"q": prefix}),
        Scenario("sis_code", f"q={code} (a SIS code)", {"q": code}, check={"person__sis_code": code}),
        Scenario(
            "email", f"q={email} (an e-mail address)", {"q": email}, check={"person__email__iexact": email}
        ),
        Scenario(
            "page",
            f"page {LAST_PAGE}, unfiltered, by next-page links",
            follow=LAST_PAGE - 1,
            min_rows=PER_PAGE,
        ),
    ]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile, interpolating linearly between the two nearest ranks (numpy's default)."""
    if not values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside [0, 100]")
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class AccountPage(HTMLParser):
    """What the benchmark reads from the page: the listed account ids and the next-page link."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.accounts: list[int] = []
        self.next_href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "tr" and values.get("data-account"):
            self.accounts.append(int(values["data-account"]))
        if values.get("id") == "next-page" and self.next_href is None:
            self.next_href = values.get("href")

    @classmethod
    def parse(cls, html: str) -> AccountPage:
        page = cls()
        page.feed(html)
        page.close()
        return page


def next_url(current: str, page: AccountPage) -> str | None:
    """The URL the next-page link leads to from `current` (the href may be relative or just a query)."""
    if not page.next_href:
        return None
    return urljoin(current, page.next_href)


def page_url(slug: str, params: dict[str, str]) -> str:
    base = f"/console/{slug}/accounts/"
    return f"{base}?{urlencode(params)}" if params else base


def allowed_host(hosts: Sequence[str]) -> str:
    """A Host header the settings accept (the test Client's default, "testserver", is not)."""
    for host in hosts:
        if host and host != "*":
            return host.lstrip(".")
    return "localhost"


def summary(times_ms: Sequence[float]) -> dict[str, float]:
    return {f"p{q}": percentile(times_ms, q) for q in (50, 95, 99)}


# ---- child process: Django is set up only here, with the database the runner chose ----------------------


class FullCollections:
    """Python's full (generation 2) garbage collections while `active`, and how long each one paused the process.

    They are part of server time, as in any long-lived worker, and they make most of the slow tail: reported so
    that a p99 far above the p95 is not mistaken for slow SQL.
    """

    def __init__(self) -> None:
        self.active = False
        self.pauses_ms: list[float] = []
        self._began: float | None = None

    def __call__(self, phase: str, info: dict) -> None:
        if not self.active or info.get("generation") != 2:
            return
        if phase == "start":
            self._began = time.perf_counter()
        elif self._began is not None:
            self.pauses_ms.append((time.perf_counter() - self._began) * 1000)
            self._began = None


class PageFailure(SystemExit):
    """The page did not answer as the contract says: the figures would prove nothing."""


def measure(slug: str, plan: list[Scenario], requests: int, warmup: int, plans_dir: Path) -> dict:
    """Time every scenario's request; write each one's SQL and plans to `plans_dir`."""
    load_before = os.getloadavg()[0]
    _setup_django()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from schoolgate.accounts.models import Account
    from schoolgate.admins.models import AdminMembership
    from schoolgate.core.models import District

    user = User.objects.filter(username=STAFF_USER).first() or User.objects.create_user(
        STAFF_USER, email="bench-admin@example.org", password=None
    )
    # The district's Primary (every permission, so the membership check is the one every admin pays).
    district = District.objects.get(slug=slug)
    if not AdminMembership.objects.filter(user=user, district=district).exists():
        AdminMembership.objects.filter(district=district, role="primary").delete()
        AdminMembership.objects.create(user=user, district=district, role="primary", created_by="bench")
    device, _ = TOTPDevice.objects.get_or_create(user=user, name="bench", defaults={"confirmed": True})
    # Not setup_test_environment(): it would instrument template rendering (a signal and a context copy per
    # template) and so slow down the very thing measured. Only the Host header needs to be one the settings allow.
    client = Client(HTTP_HOST=allowed_host(settings.ALLOWED_HOSTS))
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    session["otp_device_id"] = device.persistent_id  # as if the admin had typed their TOTP code
    session.save()
    plans_dir.mkdir(parents=True, exist_ok=True)
    collections = FullCollections()
    gc.callbacks.append(collections)

    def get(url: str):
        response = client.get(url)
        if response.status_code != 200:
            raise PageFailure(f"GET {url} answered {response.status_code}, not 200")
        return response

    results = []
    for scenario in plan:
        url = page_url(slug, scenario.params)
        page = AccountPage.parse(get(url).content.decode())
        seen = list(page.accounts)
        for number in range(2, scenario.follow + 2):
            following = next_url(url, page)
            if following is None:
                raise PageFailure(f"{scenario.label}: page {number - 1} ({url}) has no #next-page link")
            url = following
            page = AccountPage.parse(get(url).content.decode())
            seen += page.accounts
        if len(seen) != len(set(seen)):
            raise PageFailure(f"{scenario.label}: an account is listed on two pages; the cursor is wrong")
        if len(page.accounts) < scenario.min_rows:
            raise PageFailure(
                f"{scenario.label}: {url} lists {len(page.accounts)} accounts, at least {scenario.min_rows} expected"
            )
        if scenario.check:
            wrong = list(
                Account.objects.filter(pk__in=page.accounts)
                .exclude(**scenario.check)
                .values_list("pk", flat=True)
            )
            if wrong:
                raise PageFailure(f"{scenario.label}: {url} lists accounts outside the filter: {wrong[:10]}")

        for _ in range(warmup):
            get(url)
        times: list[float] = []
        collections.pauses_ms, collections.active = [], True
        budget_ends = time.perf_counter() + SCENARIO_BUDGET_S
        while len(times) < requests and (len(times) < MIN_REQUESTS or time.perf_counter() < budget_ends):
            began = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                raise PageFailure(f"GET {url} answered {response.status_code}, not 200")
        collections.active = False

        with CaptureQueriesContext(connection) as captured:
            get(url)
        queries = captured.captured_queries
        _write_plans(plans_dir / f"{scenario.key}.txt", scenario, url, queries, summary(times))
        results.append(
            {
                "key": scenario.key,
                "url": url,
                "rows": len(page.accounts),
                "times_ms": [round(t, 3) for t in times],
                "queries": len(queries),
                "sql_ms": sum(float(q["time"]) for q in queries) * 1000,
                "gc_pauses_ms": [round(t, 1) for t in collections.pauses_ms],
            }
        )
    return {"scenarios": results, "load": [load_before, os.getloadavg()[0]]}


def _write_plans(path: Path, scenario: Scenario, url: str, queries: list[dict], figures: dict) -> None:
    """The SQL one request ran, each statement's time and (for reads) its plan, executed again."""
    from django.db import connection

    from schoolgate.core import sql

    verdict = "met" if figures["p95"] <= TARGET_MS else "NOT MET"
    lines = [
        f"# {scenario.label}: GET {url}",
        f"# p50 {figures['p50']:.1f} / p95 {figures['p95']:.1f} / p99 {figures['p99']:.1f} ms "
        f"(target p95 ≤ {TARGET_MS:g} ms: {verdict}); {len(queries)} queries in one captured request",
        "",
    ]
    explain = "EXPLAIN (ANALYZE, BUFFERS) " if sql.is_postgres() else "EXPLAIN QUERY PLAN "
    with connection.cursor() as cursor:
        for number, query in enumerate(queries, start=1):
            text = query["sql"]
            lines += [f"-- query {number}: {float(query['time']) * 1000:.2f} ms", text, ""]
            if text.lstrip().upper().startswith(("SELECT", "WITH")):
                cursor.execute(explain + text)
                lines += [" | ".join(str(cell) for cell in row) for row in cursor.fetchall()]
                lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
