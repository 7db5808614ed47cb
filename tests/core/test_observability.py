"""Health, readiness, Prometheus metrics and JSON logs — in-process, and under a real gunicorn."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from schoolgate.core.observability import JsonFormatter

ROOT = Path(__file__).resolve().parents[2]


def test_health_and_readiness(client, db):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}


def test_metrics_are_served_to_loopback_or_with_the_token(client, district, settings):
    client.post(f"/portal/{district.slug}/login/", {"identifier": "nobody", "password": "wrong password"})
    text = client.get("/metrics").content.decode()
    assert "# TYPE schoolgate_sync_runs_total counter" in text and "schoolgate_task_queue_depth" in text
    assert 'schoolgate_logins_total{result="refused",surface="portal"}' in text
    assert "schoolgate_mail_messages" in text and "schoolgate_sync_duration_seconds_count" in text
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403
    settings.SCHOOLGATE_METRICS_TOKEN = "s3cret-metrics"
    allowed = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer s3cret-metrics")
    assert allowed.status_code == 200
    assert (
        client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer guess").status_code == 403
    )
    # A header is any text: one that is not ASCII is a wrong token too, not a 500 from compare_digest.
    for guess in ("Bearer ü", "Bearer s3cret-metrics-ü", "Bearer \u00e9\u00e9"):
        assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION=guess).status_code == 403
    settings.SCHOOLGATE_METRICS_TOKEN = "s3cret-métrics"
    allowed = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer s3cret-métrics")
    assert allowed.status_code == 200


def test_the_latest_syncs_time_per_step_is_a_metric(client, cli, district, tmp_path):
    from tests.builders import write_oneroster

    users = [{"sourcedId": "s1", "role": "student", "orgSourcedIds": "sch1"}]
    doc = cli("sync", district.slug, write_oneroster(tmp_path, users=users, orgs=[{"sourcedId": "sch1",
              "type": "school"}]), "--json").json  # fmt: skip
    text = client.get("/metrics").content.decode()
    assert "# TYPE schoolgate_sync_last_step_seconds gauge" in text
    for step, seconds in doc["durations"].items():
        assert f'schoolgate_sync_last_step_seconds{{step="{step}"}} {float(seconds)}' in text


def test_log_lines_are_json_with_extra_fields_and_exceptions():
    record = logging.makeLogRecord({"name": "schoolgate.sync", "levelname": "ERROR", "msg": "run %s failed",
                                    "args": (7,), "district": "north"})  # fmt: skip
    try:
        raise ValueError("broken file")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "run 7 failed" and line["district"] == "north" and line["level"] == "ERROR"
    assert "ValueError: broken file" in line["exception"] and line["time"].endswith("+00:00")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.skipif(bool(os.environ.get("SCHOOLGATE_DATABASE_URL")), reason="the SQLite file run covers it")
def test_gunicorn_serves_with_several_workers(tmp_path):
    """The production server as deployed: gunicorn with the project's config, JSON logs, metrics summed
    across worker processes."""
    env = {**os.environ, "SCHOOLGATE_VAR_DIR": str(tmp_path / "var"), "SCHOOLGATE_LOG_FORMAT": "json",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"), "SCHOOLGATE_ALLOWED_HOSTS": "127.0.0.1"}  # fmt: skip
    (tmp_path / "prom").mkdir()
    assert (
        subprocess.run(
            [sys.executable, "-m", "schoolgate", "migrate", "-v0"], env=env, check=False
        ).returncode
        == 0
    )
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "--bind",
         f"127.0.0.1:{port}", "--workers", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        status = None
        for _ in range(300):  # workers import Django first: allow a loaded machine some seconds
            try:
                status, _ = _get(base + "/health")
                break
            except OSError:
                time.sleep(0.1)
        assert status == 200, server.stderr.read() if server.poll() is not None else "not answering"
        assert _get(base + "/ready") == (200, json.dumps({"status": "ready"}))
        for _ in range(4):  # spread over both workers
            _get(base + "/portal/none/login/")
        status, text = _get(base + "/metrics")
        assert status == 200 and "schoolgate_sync_runs" in text
    finally:
        server.terminate()
        _, err = server.communicate(timeout=20)
    access = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(line.get("logger") == "gunicorn.access" for line in access), err[-2000:]
