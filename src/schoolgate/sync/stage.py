"""Staging: load a snapshot's frames into temporary tables, ready for set-based SQL.

PostgreSQL gets COPY; SQLite gets executemany. The temporary tables live only in the sync's transaction and
connection. Statistics are gathered on PostgreSQL because autovacuum never analyses temporary tables, and the
planner would otherwise guess badly at millions of rows.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from schoolgate.core import sql
from schoolgate.sync.readers.base import Snapshot

STAGING_TABLES = {
    "sg_org": (
        "orgs",
        "file VARCHAR(64), line BIGINT, code VARCHAR(255), status VARCHAR(12), name VARCHAR(255),"
        " org_type VARCHAR(40), parent_code VARCHAR(255)",
        ["code"],
    ),
    "sg_person": (
        "people",
        "file VARCHAR(64), line BIGINT, code VARCHAR(255), status VARCHAR(12), kind VARCHAR(10),"
        " roles VARCHAR(255), enabled BOOLEAN, given_name VARCHAR(255), family_name VARCHAR(255),"
        " middle_name VARCHAR(255), preferred_given_name VARCHAR(255), username VARCHAR(255),"
        " identifier VARCHAR(255), email VARCHAR(320), phone VARCHAR(64), sms VARCHAR(64), grades VARCHAR(100),"
        " digest BIGINT",
        ["code"],
    ),
    "sg_rel": (
        "relations",
        "file VARCHAR(64), line BIGINT, col VARCHAR(64), declarer_code VARCHAR(255), other_code VARCHAR(255),"
        " relationship VARCHAR(40)",
        ["declarer_code", "other_code"],
    ),
    "sg_mem": (
        "memberships",
        "file VARCHAR(64), line BIGINT, col VARCHAR(64), person_code VARCHAR(255), org_code VARCHAR(255),"
        " role VARCHAR(40), is_primary BOOLEAN, status VARCHAR(12)",
        ["person_code"],
    ),
}


def stage(cursor: Any, snapshot: Snapshot) -> None:
    """Create and fill the staging tables from the snapshot."""
    for name, (frame_name, columns, indexed) in STAGING_TABLES.items():
        sql.create_temp_table(cursor, name, columns)
        frame = getattr(snapshot, frame_name)
        if name == "sg_person" and "digest" not in frame.columns:
            # No fingerprint (a delta file): the person's stored fingerprint becomes unknown.
            frame = frame.with_columns(pl.lit(None, pl.Int64).alias("digest"))
        if "column" in frame.columns:
            frame = frame.rename({"column": "col"})
        sql.load_frame(cursor, name, frame)
        for column in indexed:
            cursor.execute(f"CREATE INDEX {name}_{column}_idx ON {name} ({column})")
        sql.analyze(cursor, name)


def unstage(cursor: Any) -> None:
    for name in STAGING_TABLES:
        sql.drop_temp_table(cursor, name)
