"""gunicorn settings for Schoolgate's web processes: `gunicorn -c deploy/gunicorn.conf.py`.

Every value can be overridden on the command line or with GUNICORN_CMD_ARGS. Defaults suit a small machine:
one worker process per core, each with threads (a request mostly waits on the database, except the
password check, which is pure CPU and is admitted only as far as the cores can hash).
"""

import os
import shutil
from pathlib import Path

wsgi_app = "schoolgate.wsgi:application"
bind = os.environ.get("SCHOOLGATE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SCHOOLGATE_WEB_WORKERS", os.cpu_count() or 2))
worker_class = "gthread"
# Enough threads that a burst reaches the application, whose admission control refuses what it cannot hash in
# time (a request waiting for a thread is invisible to it); each thread may hold one database connection.
threads = int(os.environ.get("SCHOOLGATE_WEB_THREADS", 32))
# Each process hashes passwords on its share of the cores; logins beyond that wait briefly, then get 503
# (schoolgate/core/admission.py) instead of piling up behind the threads.
os.environ.setdefault("SCHOOLGATE_HASH_SLOTS", str(max(1, (os.cpu_count() or 1) // workers)))
timeout = 30  # a request still running after 30 s is stuck: the worker is replaced
graceful_timeout = 20
keepalive = 5
max_requests = 5000  # recycle workers now and then; jitter so they do not all restart together
max_requests_jitter = 500
forwarded_allow_ips = os.environ.get("SCHOOLGATE_PROXY_IPS", "127.0.0.1")  # the reverse proxy in front

# Prometheus counters from every worker are summed through files in this directory (cleared at start).
_metrics_dir = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(
    os.environ.get("SCHOOLGATE_VAR_DIR", "var"), "prometheus")))  # fmt: skip


def on_starting(server) -> None:  # noqa: ANN001 (gunicorn's hook signature)
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    _metrics_dir.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker) -> None:  # noqa: ANN001
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


# Access and error logs as JSON lines on stderr, like the application's own (SCHOOLGATE_LOG_FORMAT=json).
_format = os.environ.get("SCHOOLGATE_LOG_FORMAT", "text")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
accesslog = "-"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "schoolgate.core.observability.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": _format, "stream": "ext://sys.stderr"}
    },
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}
