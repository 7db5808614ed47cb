"""The few places where PostgreSQL and SQLite speak different SQL, behind one small interface.

The sync engine and the bulk lifecycle paths are set-based: they stage rows in temporary tables (COPY on
PostgreSQL, executemany on SQLite) and then change the live tables with INSERT … SELECT and UPDATE … FROM.
Both engines support that SQL; they differ only in the spellings gathered here.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl
from django.db import connection
from django.db.models import CharField, Func, Model

SQLITE_UPPER = "sg_upper"


def is_postgres() -> bool:
    """True when the default database is PostgreSQL."""
    return connection.vendor == "postgresql"


def table(model: type[Model]) -> str:
    """The quoted table name of a model."""
    return connection.ops.quote_name(model._meta.db_table)


def upper_per_letter(value: str | None) -> str | None:
    """Upper case letter by letter, as PostgreSQL's UPPER() does ('ß' stays 'ß'; Python's own str.upper()
    makes it 'SS', which would let 'straße' find 'Strasse' on one engine only)."""
    if value is None:
        return None
    whole = value.upper()
    if len(whole) == len(value):
        return whole
    return "".join(c if len(u := c.upper()) != 1 else u for c in value)


class UnicodeUpper(Func):
    """UPPER() that folds every letter on both engines: PostgreSQL's own, and on SQLite, whose UPPER() folds
    ASCII letters only, `upper_per_letter` registered as a function. For comparing names beyond ASCII; the
    name indexes use the engine's own UPPER (Django's Upper), so this is not for ORDER BY or index ranges."""

    function = "UPPER"
    output_field = CharField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(compiler, connection, function=SQLITE_UPPER, **extra)


def register_sqlite_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    """`connection_created` receiver: the Python functions Schoolgate's SQL calls on SQLite."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQLITE_UPPER, 1, upper_per_letter, deterministic=True)


def differs(a: str, b: str) -> str:
    """A null-safe 'a differs from b' predicate."""
    return f"({a} IS DISTINCT FROM {b})" if is_postgres() else f"({a} IS NOT {b})"


def json_object(fields: dict[str, str]) -> str:
    """An SQL expression building a JSON object from SQL expressions, for audit before/after columns."""
    parts = ", ".join(f"'{key}', {expr}" for key, expr in fields.items())
    return f"jsonb_build_object({parts})" if is_postgres() else f"json_object({parts})"


def sql_true() -> str:
    return "TRUE" if is_postgres() else "1"


def sql_false() -> str:
    return "FALSE" if is_postgres() else "0"


def for_update() -> str:
    """Row locks where the engine has them; SQLite serialises writers with its database lock instead."""
    return "FOR UPDATE" if is_postgres() else ""


def create_temp_table(cursor: Any, name: str, columns: str) -> None:
    """(Re)create a temporary table for this connection."""
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    cursor.execute(f"CREATE TEMPORARY TABLE {name} ({columns})")


def links_touching(scope: str, district_param: str = "%s") -> str:
    """SQL yielding the ids of the district's links whose student or contact is in `scope` (person ids).

    A UNION of two joins rather than `student_id IN (…) OR contact_id IN (…)`: PostgreSQL cannot turn an OR of
    IN-subqueries into joins, and once the id list outgrows work_mem it rescans it for every link.
    """
    from schoolgate.people.models import Link

    link = table(Link)
    return f"""SELECT l1.id FROM {link} l1 JOIN ({scope}) x1 ON x1.person_id = l1.student_id
                WHERE l1.district_id = {district_param}
               UNION
               SELECT l2.id FROM {link} l2 JOIN ({scope}) x2 ON x2.person_id = l2.contact_id
                WHERE l2.district_id = {district_param}"""


def analyze(cursor: Any, *tables: str) -> None:
    """Refresh planner statistics after a large set-based write (PostgreSQL only).

    Autovacuum never analyses temporary tables and reaches freshly filled live tables only after the
    transaction, so without this the planner guesses a handful of rows and picks nested loops over millions.
    """
    if is_postgres():
        for name in tables:
            cursor.execute(f"ANALYZE {name}")


def drop_temp_table(cursor: Any, name: str) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {name}")


def load_frame(cursor: Any, name: str, frame: pl.DataFrame, *, chunk_rows: int = 200_000) -> None:
    """Bulk-load a polars frame into a (temporary) table whose columns match the frame's names.

    PostgreSQL gets COPY in CSV chunks; SQLite gets executemany, which is its fastest bulk path.
    """
    if frame.height == 0:
        return
    columns = ", ".join(frame.columns)
    if is_postgres():
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {name} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')") as copy:
            for offset in range(0, frame.height, chunk_rows):
                buffer = io.BytesIO()
                frame.slice(offset, chunk_rows).write_csv(buffer, include_header=False, null_value="\\N")
                copy.write(buffer.getvalue())
    else:
        placeholders = ", ".join("?" for _ in frame.columns)
        sql = f"INSERT INTO {name} ({columns}) VALUES ({placeholders})"
        raw = cursor.cursor  # sqlite3 cursor: skips Django's per-statement param rewriting
        for offset in range(0, frame.height, chunk_rows):
            raw.executemany(sql, frame.slice(offset, chunk_rows).iter_rows())


def read_frame(
    cursor: Any, query: str, schema: dict[str, Any], *, chunk_bytes: int = 16 << 20
) -> pl.DataFrame:
    """The rows a query returns, as a polars frame with `schema` (the mirror of `load_frame`).

    PostgreSQL sends them with COPY as CSV, parsed a slice of about `chunk_bytes` at a time; SQLite's are
    fetched a slice at a time. Slices keep the transient copy small: three million rows read whole held the
    CSV text and the frame at once (over 100 MB more).
    """
    empty = pl.DataFrame(schema=schema)
    frames: list[pl.DataFrame] = []
    if is_postgres():

        def parse(text: bytes) -> None:
            frames.append(
                pl.read_csv(
                    text,
                    has_header=False,
                    new_columns=list(schema),
                    schema_overrides=schema,
                    null_values="\\N",
                    empty_string_is_null=False,  # an empty value is "", a null is \\N
                )
            )

        pending = bytearray()
        with cursor.cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, NULL '\\N')") as copy:
            for chunk in copy:
                pending += chunk
                if len(pending) >= chunk_bytes and (cut := _rows_end(pending)):
                    parse(bytes(pending[:cut]))
                    del pending[:cut]
        if pending:
            parse(bytes(pending))
    else:
        cursor.execute(query)
        while rows := cursor.fetchmany(200_000):
            frames.append(pl.DataFrame(rows, schema=schema, orient="row"))
    return pl.concat(frames, how="vertical", rechunk=False) if frames else empty


def _rows_end(text: bytearray) -> int:
    """Where the last complete CSV row of `text` ends (0: none yet). A newline inside a quoted value does not
    end a row; quotes inside quoted values are doubled, so a newline ends one exactly when an even number of
    quotes precede it."""
    end = len(text)
    while (cut := text.rfind(b"\n", 0, end)) >= 0:
        if text.count(b'"', 0, cut) % 2 == 0:
            return cut + 1
        end = cut
    return 0


def load_rows(cursor: Any, name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Bulk-load plain Python rows (small selections such as codes typed on the command line)."""
    rows = list(rows)
    if not rows:
        return
    frame = pl.DataFrame(rows, schema=list(columns), orient="row")
    load_frame(cursor, name, frame)


def fetch_dicts(cursor: Any, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cursor.execute(sql, params)
    names = [col[0] for col in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def scalar(cursor: Any, sql: str, params: Sequence[Any] = ()) -> Any:
    cursor.execute(sql, params)
    row = cursor.fetchone()
    return row[0] if row else None


def db_datetime(value: Any) -> Any:
    """A datetime as the backend stores it (raw SQL bypasses the ORM's conversion)."""
    return connection.ops.adapt_datetimefield_value(value)
