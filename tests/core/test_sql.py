"""core.sql: the bulk paths between polars frames and the database, on whichever engine the suite runs."""

from __future__ import annotations

import polars as pl
import pytest
from django.db import connection

from schoolgate.core import sql

SCHEMA = {"code": pl.Utf8, "value": pl.Int64, "note": pl.Utf8}


@pytest.fixture
def table(db):
    with connection.cursor() as cursor:
        sql.create_temp_table(cursor, "t_read", "code TEXT, value BIGINT, note TEXT")
        yield cursor
        sql.drop_temp_table(cursor, "t_read")


def test_read_frame_returns_what_load_frame_wrote_whatever_the_slices(table):
    """Values with newlines, quotes and commas, nulls and 64-bit extremes survive, and a row is never cut
    where a slice ends (a slice of a few bytes puts a boundary inside nearly every value)."""
    frame = pl.DataFrame(
        {
            "code": [f"p{i}" for i in range(6)] + ["a\nb", 'say "hi"\n,', "x,y", "ünï", "\\N?"],
            "value": [-(2**63), 2**63 - 1, None, 0, -1, 5, 6, 7, 8, 9, 10],
            "note": [None, "", "plain", '"', "\n", "\r\n", None, "a,b", '""', "z", "end"],
        },
        schema=SCHEMA,
    )
    sql.load_frame(table, "t_read", frame)
    query = "SELECT code, value, note FROM t_read ORDER BY value NULLS FIRST, code"
    expected = frame.sort("value", "code", nulls_last=False)
    for chunk_bytes in (1, 7, 1 << 20):
        read = sql.read_frame(table, query, SCHEMA, chunk_bytes=chunk_bytes)
        assert read.schema == pl.Schema(SCHEMA)
        got = read.with_columns(pl.col("note").fill_null("<null>"))
        assert got.rows() == expected.with_columns(pl.col("note").fill_null("<null>")).rows(), chunk_bytes


def test_read_frame_of_no_rows_has_the_schema(table):
    read = sql.read_frame(table, "SELECT code, value, note FROM t_read", SCHEMA)
    assert read.is_empty() and read.schema == pl.Schema(SCHEMA)
