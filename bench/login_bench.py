"""Logins and portal pages under load: gunicorn as deployed (deploy/gunicorn.conf.py), a load generator on
loopback, and every limit measured in the same run.

    .venv/bin/python bench/run.py --only login [--db postgres|sqlite] [--write]

What is measured, against what:
- hash cost: one argon2id verify (m=19 MiB, t=2, p=1), timed in this process; the hash-bound ceiling is
  cores ÷ that time (logins per second if the machine did nothing but hash);
- capacity: successful logins per second with many clients at once (closed loop); target ≥ 90% of the
  ceiling;
- half load: logins offered at half the ceiling (open loop, fixed rate); target p99 ≤ 3 x one verify;
- overload: logins offered at twice the ceiling; every request must be answered — the ones beyond capacity
  with 503 quickly (p99 of the refusals ≤ 1 s) — and none may time out;
- a logged-in portal page ("My students") at 250 requests per second (open loop); target p99 ≤ 50 ms.

The load generator is this process (asyncio streams), not locust or wrk: the half-load and page targets are
latencies at a fixed offered rate, which needs an open-loop generator (wrk and locust's default users are
closed loops, whose latency figures hide queueing — "coordinated omission"), and on a 2-core machine the
generator's own CPU must stay small and be reported; it is (see "generator CPU" in the facts).
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from harness import REPO_ROOT, BenchFailure, Context, cli_env, fresh_postgres, fresh_sqlite, run_child
from report import BenchResult, Step

FAMILIES = 300
PASSWORD = "plum tree harbour 42"  # noqa: S105 (the bench guardians' password)
CAPACITY_SECONDS, HALF_SECONDS, OVERLOAD_SECONDS, PAGE_SECONDS = 15, 15, 10, 15
PAGE_RATE = 250
CLIENT_TIMEOUT = 10.0
CAPACITY_CLIENTS = 6  # the logins the server admits at once (2 processes x (1 slot + 2 waiting))


def run_login(ctx: Context) -> BenchResult:
    var = ctx.scratch / "var"
    database = fresh_postgres(ctx.pg_admin_url) if ctx.database == "postgres" else fresh_sqlite(var)
    env = cli_env(database, var)
    logs = ctx.scratch / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    cli = str(ctx.cli)
    for argv, name in (
        ([cli, "migrate"], "migrate"),
        ([cli, "collectstatic", "--noinput"], "collectstatic"),  # gunicorn serves the hashed static files
        ([cli, "district", "add", "bench", "Bench"], "district"),
    ):
        if run_child(argv, env, logs, name).returncode:
            raise BenchFailure(f"{name} failed (output in {logs})")
    setup = run_child([sys.executable, str(Path(__file__).resolve()), "setup"], env, logs, "setup")
    if setup.returncode:
        raise BenchFailure(f"setup failed: {setup.stderr[-2000:]}")
    verify_s = float(setup.stdout.strip().splitlines()[-1])
    cores = os.cpu_count() or 1
    ceiling = cores / verify_s

    port = _free_port()
    server_env = {**env, "SCHOOLGATE_ALLOWED_HOSTS": "127.0.0.1", "SCHOOLGATE_LOG_LEVEL": "ERROR",
                  "PROMETHEUS_MULTIPROC_DIR": str(ctx.scratch / "prom")}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(REPO_ROOT / "deploy" / "gunicorn.conf.py"), "--bind",
         f"127.0.0.1:{port}", "--access-logfile", "/dev/null"],
        env=server_env, stdout=(logs / "gunicorn.out").open("w"), stderr=subprocess.STDOUT, cwd=REPO_ROOT,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base)
        cpu_before = _own_cpu()
        started = time.monotonic()
        results = asyncio.run(_load(base, ceiling))
        generator_cpu = (_own_cpu() - cpu_before) / (time.monotonic() - started)
    finally:
        server.terminate()
        server.wait(timeout=30)

    capacity, half, over, page = results["capacity"], results["half"], results["overload"], results["page"]
    achieved = capacity["ok"] / CAPACITY_SECONDS
    if achieved == 0 or not half["ok_ms"] or not page["ok_ms"]:
        raise BenchFailure(f"no successful requests: {results} (logs in {logs})")
    steps = [
        Step(
            f"one argon2id verify (m=19 MiB, t=2, p=1): {verify_s * 1000:.1f} ms; ceiling {ceiling:.1f} "
            f"logins/s on {cores} cores",
            verify_s,
            verify_s,
            baseline=True,
        ),
        Step(
            f"capacity: {achieved:.1f} logins/s achieved = {achieved / ceiling:.0%} of the ceiling "
            f"({CAPACITY_CLIENTS} clients, {capacity['refused']} answered 503); s per login vs 1 ÷ (90% of ceiling)",
            1 / achieved,
            1 / (0.9 * ceiling),
            max_ratio=1.0,
        ),
        Step(
            f"half load, {ceiling / 2:.1f} logins/s offered: p50 {_p(half['ok_ms'], 50):.0f} / p99 "
            f"{_p(half['ok_ms'], 99):.0f} ms (n={len(half['ok_ms'])}, {half['refused']} refused); p99 s vs "
            "3 x one verify",
            _p(half["ok_ms"], 99) / 1000,
            3 * verify_s,
            max_ratio=1.0,
        ),
        Step(
            f"overload, {2 * ceiling:.1f} logins/s offered: {over['ok']} logged in, {over['refused']} refused "
            f"with 503 (p99 of refusals {_p(over['refused_ms'], 99):.0f} ms, of logins {_p(over['ok_ms'], 99):.0f} ms), "
            f"{over['timeouts']} timed out; "
            "p99 s of refusals vs 1 s",
            _p(over["refused_ms"], 99) / 1000 if over["refused_ms"] else 0.0,
            1.0,
            max_ratio=1.0,
        ),
        Step(
            f"timeouts under overload: {over['timeouts']} (target 0)",
            float(over["timeouts"]),
            1.0,
            max_ratio=0.0 if over["timeouts"] else 1.0,
        ),
        Step(
            f"portal page at {PAGE_RATE}/s: p50 {_p(page['ok_ms'], 50):.1f} / p99 {_p(page['ok_ms'], 99):.1f} ms "
            f"(n={len(page['ok_ms'])}, errors {page['errors']} {page['other'] or ''}); p99 s vs 50 ms",
            _p(page["ok_ms"], 99) / 1000,
            0.050,
            max_ratio=1.0,
        ),
    ]
    facts = [
        "The `seconds` column holds each measured figure in seconds and `P` its limit, measured in the same run; "
        "a row meets its target at ≤ 1x P. The first row is the hash cost itself.",
        f"Server: gunicorn with deploy/gunicorn.conf.py ({cores} worker processes x 32 threads, hashing slots = "
        "cores ÷ workers each, 300 ms admission wait), on loopback; database: "
        f"{'PostgreSQL ' + (database.server_version or '') if database.kind == 'postgres' else 'SQLite (file)'}.",
        f"Data: {FAMILIES} families synced, every guardian active with a password; each login is a fresh POST to "
        "/portal/bench/login/ with a CSRF token (a new session each time, as a first-day login is).",
        f"Load: capacity = {CAPACITY_CLIENTS} concurrent clients for {CAPACITY_SECONDS} s; half load {HALF_SECONDS} s and "
        f"overload {OVERLOAD_SECONDS} s at fixed rates (open loop); page = {PAGE_RATE} GET /portal/students/ "
        f"per second for {PAGE_SECONDS} s over {min(FAMILIES, 50)} logged-in sessions. Client time-out "
        f"{CLIENT_TIMEOUT:.0f} s.",
        f"Generator CPU (this process: asyncio streams, keep-alive connections): {generator_cpu:.0%} of one core on average — taken from "
        "the same two cores the server uses, so the server's figures are if anything pessimistic.",
    ]
    return BenchResult("login", database.kind, FAMILIES, steps, facts, database.server_version)


# ---- the load generator ------------------------------------------------------------------------------------


class Http:
    """A lean HTTP/1.1 client over asyncio streams with a pool of keep-alive connections.

    The generator shares the machine with the server; httpx costs about a millisecond of CPU per request,
    this a fraction of that, so more of the two cores stay with the server being measured.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(
        self, method: str, path: str, cookies: dict[str, str], body: str = ""
    ) -> tuple[int, dict, str]:
        if self.idle:
            try:
                return await self._send(self.idle.pop(), method, path, cookies, body)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass  # the server closed an idle keep-alive connection: open a new one
        conn = await asyncio.open_connection(self.host, self.port)
        return await self._send(conn, method, path, cookies, body)

    async def _send(
        self, conn: tuple, method: str, path: str, cookies: dict[str, str], body: str
    ) -> tuple[int, dict, str]:
        reader, writer = conn
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Connection: keep-alive"]
        if cookies:
            head.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items()))
        data = body.encode()
        if method == "POST":
            head += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(data)}",
                     f"Origin: http://{self.host}:{self.port}", f"Referer: http://{self.host}:{self.port}{path}"]  # fmt: skip
        try:
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
            status, headers, text = await asyncio.wait_for(self._response(reader), CLIENT_TIMEOUT)
        except BaseException:
            writer.close()
            raise
        if headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            self.idle.append(conn)
        return status, headers, text

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, dict, str]:
        lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                key = name.strip().lower()
                headers[key] = headers[key] + "\n" + value.strip() if key in headers else value.strip()
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        else:  # chunked
            body = b""
            while size := int((await reader.readline()).strip() or b"0", 16):
                body += await reader.readexactly(size)
                await reader.readline()
            await reader.readline()
        return status, headers, body.decode("utf-8", "replace")


def _cookie(headers: dict, name: str) -> str | None:
    found = re.search(rf"(?:^|\n){name}=([^;]+)", headers.get("set-cookie", ""))
    return found.group(1) if found else None


async def _load(base: str, ceiling: float) -> dict:
    host, port = base.removeprefix("http://").split(":")
    http = Http(host, int(port))
    status, headers, text = await http.request("GET", "/portal/bench/login/", {})
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text)
    csrf = _cookie(headers, "csrftoken")
    if status != 200 or found is None or csrf is None:
        raise BenchFailure(f"the login page answered {status}: {text[:500]}")
    token = found.group(1)

    def form(i: int) -> str:
        return urlencode({"identifier": f"guardian{i % FAMILIES}", "password": PASSWORD,
                          "csrfmiddlewaretoken": token})  # fmt: skip

    async def login(i: int) -> tuple[str, float]:
        started = time.perf_counter()
        try:
            status, _, _ = await http.request("POST", "/portal/bench/login/", {"csrftoken": csrf}, form(i))
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            return "timeout", CLIENT_TIMEOUT * 1000
        elapsed = (time.perf_counter() - started) * 1000
        return {302: "ok", 503: "refused"}.get(status, f"status {status}"), elapsed

    results = {"capacity": await _closed_loop(login, CAPACITY_CLIENTS, CAPACITY_SECONDS)}
    await asyncio.sleep(1)
    results["half"] = await _open_loop(login, ceiling / 2, HALF_SECONDS)
    await asyncio.sleep(2)
    results["overload"] = await _open_loop(login, ceiling * 2, OVERLOAD_SECONDS)
    await asyncio.sleep(3)

    sessions = []
    for i in range(min(FAMILIES, 50)):
        status, headers, _ = await http.request("POST", "/portal/bench/login/", {"csrftoken": csrf}, form(i))
        if status != 302 or _cookie(headers, "sessionid") is None:
            raise BenchFailure(f"page set-up: login answered {status}")
        sessions.append(_cookie(headers, "sessionid"))

    async def page(i: int) -> tuple[str, float]:
        started = time.perf_counter()
        try:
            status, _, text = await http.request(
                "GET", "/portal/students/", {"sessionid": sessions[i % len(sessions)]}
            )
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            return "timeout", CLIENT_TIMEOUT * 1000
        ok = status == 200 and "data-student" in text
        return ("ok" if ok else f"status {status}"), (time.perf_counter() - started) * 1000

    tally = await _open_loop(page, PAGE_RATE, PAGE_SECONDS)
    tally["errors"] = tally["timeouts"] + sum(tally["other"].values())
    results["page"] = tally
    return results


async def _closed_loop(call, clients: int, seconds: float) -> dict:
    outcomes: list[tuple[str, float]] = []
    deadline = time.monotonic() + seconds

    async def client(n: int) -> None:
        i = n
        while time.monotonic() < deadline:
            outcomes.append(await call(i))
            if outcomes[-1][0] == "refused":
                await asyncio.sleep(0.05)  # a polite client backs off after a 503 (it says Retry-After: 1)
            i += clients

    await asyncio.gather(*(client(n) for n in range(clients)))
    return _tally(outcomes)


async def _open_loop(call, rate: float, seconds: float) -> dict:
    """Start one request every 1/rate seconds whatever the previous ones are doing."""
    tasks = []
    start = time.monotonic()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(call(i)))
    return _tally(await asyncio.gather(*tasks))


def _tally(outcomes: list[tuple[str, float]]) -> dict:
    ok_ms = [ms for kind, ms in outcomes if kind == "ok"]
    refused_ms = [ms for kind, ms in outcomes if kind == "refused"]
    other: dict[str, int] = {}
    for kind, _ in outcomes:
        if kind not in ("ok", "refused", "timeout"):
            other[kind] = other.get(kind, 0) + 1
    return {"ok": len(ok_ms), "ok_ms": ok_ms, "refused": len(refused_ms), "refused_ms": refused_ms,
            "timeouts": sum(kind == "timeout" for kind, _ in outcomes), "other": other}  # fmt: skip


def _p(values: list[float], q: int) -> float:
    if not values:
        return 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_ready(base: str) -> None:
    import httpx

    for _ in range(300):
        try:
            if httpx.get(base + "/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise BenchFailure("gunicorn did not become ready")


# ---- set-up (run as a child process with the bench database's environment) --------------------------------


def _setup() -> None:
    """Sync FAMILIES families, activate every guardian with PASSWORD; print the time of one verify."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "schoolgate.settings")
    import django

    django.setup()
    import tempfile

    from django.contrib.auth.hashers import check_password, make_password

    from schoolgate.accounts import lifecycle
    from schoolgate.accounts.models import Account
    from schoolgate.core.models import District
    from schoolgate.sync.engine import run_sync

    sys.path.insert(0, str(REPO_ROOT))
    from tests.builders import write_oneroster

    district = District.objects.get(slug="bench")
    users = []
    for i in range(FAMILIES):
        users += [
            {"sourcedId": f"k{i}", "role": "student", "orgSourcedIds": "sch", "agentSourcedIds": f"p{i}",
             "givenName": f"Kid{i}", "familyName": "Bench"},
            {"sourcedId": f"p{i}", "role": "parent", "orgSourcedIds": "sch", "givenName": f"Parent{i}",
             "familyName": "Bench", "email": f"p{i}@example.org"},
        ]  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        outcome = run_sync(district, write_oneroster(Path(folder), users=users, orgs=[{"sourcedId": "sch",
                                                                                       "type": "school"}]))  # fmt: skip
        if outcome.status != "applied":
            raise SystemExit(f"sync: {outcome.status} {outcome.errors[:3]}")
    for i, account in enumerate(
        Account.objects.filter(district=district, person__kind="contact").order_by("id")
    ):
        lifecycle.provision_account(account, actor="bench")
        lifecycle.activate_account(Account.objects.get(pk=account.pk), username=f"guardian{i}", password=PASSWORD,
                                   actor="bench")  # fmt: skip
    encoded = make_password(PASSWORD)
    for _ in range(5):  # warm
        check_password(PASSWORD, encoded)
    n, started = 50, time.perf_counter()
    for _ in range(n):
        check_password(PASSWORD, encoded)
    print((time.perf_counter() - started) / n)


if __name__ == "__main__" and sys.argv[1:] == ["setup"]:
    _setup()
