"""Jobs and notifications as plain data, for the CLI (and later the console and API)."""

from __future__ import annotations

from typing import Any

from schoolgate.jobs.models import Job, Notification


def describe_job(job: Job) -> dict[str, Any]:
    return {
        "id": job.pk, "kind": job.kind, "title": job.title, "status": job.status, "total": job.total,
        "done": job.done, "failed": job.failed, "progress": round(job.done / job.total, 3) if job.total else 1.0,
        "created_by": job.created_by, "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "report_pdf": job.report_pdf or None, "report_csv": job.report_csv or None,
        "error": job.error or None,  # why a failed job stopped
    }  # fmt: skip


def describe_notification(n: Notification) -> dict[str, Any]:
    return {"id": n.pk, "title": n.title, "body": n.body, "link": n.link, "job": n.job_id,
            "created_at": n.created_at.isoformat(), "read": n.read_at is not None}  # fmt: skip
