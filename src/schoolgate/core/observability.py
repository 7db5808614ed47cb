"""What an operator watches: liveness and readiness endpoints, Prometheus metrics, JSON log lines.

    GET /health    200 while the process serves requests (liveness: restart the process when it fails)
    GET /ready     200 when the database answers and every migration is applied, else 503 (readiness: take
                   the process out of the load balancer, do not restart it)
    GET /metrics   Prometheus text format; from loopback only, or with SCHOOLGATE_METRICS_TOKEN as a bearer

Metrics come from two places. Counters that happen in a process (logins) are prometheus_client counters;
under gunicorn set PROMETHEUS_MULTIPROC_DIR so every worker's counts are summed. Everything that the database
already knows — sync durations, task queue depth, mail sent and failed — is read at scrape time, so it is
right whichever process did the work and survives restarts.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count, F, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

LOGINS = Counter(
    "schoolgate_logins", "Login attempts by surface (portal, console) and result", ["surface", "result"]
)
_LOOPBACK = {"127.0.0.1", "::1"}


def count_login(surface: str, result: str) -> None:
    """One login attempt: surface "portal" or "console", result "success", "refused" or "locked"."""
    LOGINS.labels(surface=surface, result=result).inc()


# ---- health and readiness ----------------------------------------------------------------------------------


def health(_request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


_schema_current = False  # once every migration is applied it stays so for this process's code


def ready(_request: HttpRequest) -> JsonResponse:
    """Ready to serve: the database answers and its schema is current."""
    global _schema_current
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        pending = []
        if not _schema_current:  # loading the migration graph takes a few hundred ms: do it until it passes
            executor = MigrationExecutor(connection)
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
            _schema_current = not pending
    except Exception as exc:  # any database failure means "not ready", with the reason for the operator
        return JsonResponse(
            {"status": "unavailable", "reason": f"database: {type(exc).__name__}"}, status=503
        )
    if pending:
        return JsonResponse(
            {"status": "unavailable", "reason": f"{len(pending)} migrations not applied"}, status=503
        )
    return JsonResponse({"status": "ready"})


# ---- metrics -----------------------------------------------------------------------------------------------


class DatabaseCollector(Collector):
    """Gauges and counters read from the database at scrape time."""

    def collect(self) -> Iterator[Any]:
        from django_tasks_db.models import DBTaskResult

        from schoolgate.mail.models import OutboxMessage
        from schoolgate.sync.models import SyncRun

        runs = CounterMetricFamily("schoolgate_sync_runs", "Sync runs by status", labels=["status"])
        for status, n in SyncRun.objects.values_list("status").annotate(n=Count("id")).order_by():
            runs.add_metric([status], n)
        yield runs
        finished = SyncRun.objects.filter(finished_at__isnull=False)
        totals = finished.aggregate(n=Count("id"), seconds=Sum(F("finished_at") - F("started_at")))
        duration = totals["seconds"].total_seconds() if totals["seconds"] else 0.0
        yield SummaryMetricFamily("schoolgate_sync_duration_seconds", "Time of finished syncs",
                                  count_value=totals["n"], sum_value=duration)  # fmt: skip
        last = finished.order_by("-finished_at").values_list("started_at", "finished_at", "durations").first()
        yield GaugeMetricFamily("schoolgate_sync_last_duration_seconds", "Duration of the latest finished sync",
                                value=(last[1] - last[0]).total_seconds() if last else 0.0)  # fmt: skip
        steps = GaugeMetricFamily("schoolgate_sync_last_step_seconds",
                                  "Seconds the latest finished sync spent in each step", labels=["step"])  # fmt: skip
        for step, seconds in (last[2] if last else {}).items():
            steps.add_metric([step], seconds)
        yield steps

        queue = GaugeMetricFamily("schoolgate_task_queue_depth", "Background tasks waiting", labels=["queue"])
        waiting = (
            DBTaskResult.objects.filter(status="READY").values_list("queue_name").annotate(n=Count("id"))
        )
        for name, n in waiting.order_by():
            queue.add_metric([name], n)
        yield queue

        mail = CounterMetricFamily(
            "schoolgate_mail_messages", "E-mails by delivery status", labels=["status"]
        )
        for status, n in OutboxMessage.objects.values_list("status").annotate(n=Count("id")).order_by():
            mail.add_metric([status], n)
        yield mail


def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.SCHOOLGATE_METRICS_TOKEN
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if token:  # as bytes: compare_digest refuses str holding anything but ASCII (a 500 for "Bearer ü")
        allowed = hmac.compare_digest(given.encode(), token.encode())
    else:
        allowed = request.META.get("REMOTE_ADDR") in _LOOPBACK
    if not allowed:
        return HttpResponse("metrics are served to loopback or with the metrics token\n", status=403)
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # every gunicorn worker's counters, summed
    else:
        registry.register(_ProcessCounters())
    registry.register(DatabaseCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class _ProcessCounters(Collector):
    """This process's own counters (single-process servers: runserver, one worker)."""

    def collect(self) -> Iterator[Any]:
        yield from LOGINS.collect()


# ---- logs --------------------------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any `extra` fields and exception."""

    _standard = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self._standard and not key.startswith("_"):
                line[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)
