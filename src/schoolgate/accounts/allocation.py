"""Unique usernames for a batch of people, at a cost proportional to the batch, not to existing clashes.

A generation job renders each person's *stem* with the group's naming scheme (`naming.Scheme`) and needs a
number in that stem's series no one holds yet: jsmith, jsmith2, … In a district that already has thousands
of "john.smith…" accounts, probing john.smith, john.smith2, … one by one would cost time per existing clash.
Instead the next free number of every stem is kept in `UsernameStem` (district, stem key, next_counter):

1. Render every person's stem, once per distinct set of fields (`EmptyUsername` → a failure for that
   person, not an error for the batch).
2. Counter rows. Read which of the batch's stems have one (IN-lists of 1,000, no lock yet). A stem seen for
   the first time gets its row from the existing accounts, once: one query per 1,000 new stems finds, for
   each, the highest number already held (a range scan of the (district, username_key) unique index: every
   key with the stem as prefix lies in [stem, stem with its last character incremented) in code-point
   order; only the maxima leave the database). The new rows are inserted, sorted, with ON CONFLICT DO
   NOTHING … RETURNING: the rows returned are this transaction's alone until it commits (an allocation
   inserting the same stem waits for it). Every other row — existing ones, and any a concurrent allocation
   created first — is then locked with SELECT … FOR UPDATE in code-point order and read under the lock.
   Taking no lock before the inserts and all locks in one order is what keeps concurrent allocations from
   ever waiting for each other in a cycle.
3. Hand out numbers sequentially in memory, stem by stem, and check the resulting keys against the district's
   accounts in IN-lists of 1,000: a username someone chose at activation, or one that an older run left past
   the counter, may sit in the series. Taken numbers are skipped (each further round checks a wider block of
   numbers for the stems still waiting, so a long run of taken names costs few queries).
4. Write the advanced counters back (one UPDATE per 1,000 stems).

A batch of N people with S distinct stems thus costs about 3·S/1000 + N/1000 queries (and a savepoint),
however many accounts already share those stems. Only the first use of a stem reads the index entries of the
accounts already holding it — once, in the database; from then on its counter row answers.

Uniqueness is district-wide, across schools and person kinds, on `username_key` (NFKC + casefold): against
every Account.username_key in the district (whatever its state or person, including the requesters' own)
and against the usernames this batch hands out.

The caller writes the usernames: `allocate` writes only counter rows. It must run `allocate` and the account
updates in one transaction (`allocate` refuses to run outside `transaction.atomic()`): the counter row locks
are what keep a concurrent allocation from handing out the same numbers, and they last until that
transaction ends. The unique constraint on Account(district, username_key) stays the final guard; a clash it
reports (a username chosen by someone at the same moment) means the job's transaction rolls back and can be
run again.

On SQLite there are no row locks; its database-wide write lock (transactions begin IMMEDIATE) serialises
allocations instead. On PostgreSQL with a non-C collation the range scan of step 2 may miss keys, which only
costs extra rounds in step 3: correctness never rests on it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import QuerySet

from schoolgate.accounts.models import Account, UsernameStem
from schoolgate.accounts.naming import PERSON_FIELDS, EmptyUsername, Scheme
from schoolgate.accounts.usernames import MAX_LENGTH, username_key
from schoolgate.core import sql
from schoolgate.core.models import District

CHUNK = 1000
# A numbered suffix longer than this is not one of ours (and would overflow INTEGER).
MAX_SUFFIX_DIGITS = 9
# Rounds after the first check blocks of numbers this many times larger, doubling up to the cap.
MAX_BLOCK_FACTOR = 64


@dataclass
class Allocation:
    """What `allocate` decided: a username per person, or why there is none."""

    usernames: dict[int, str] = field(default_factory=dict)  # person id → username
    failures: dict[int, str] = field(default_factory=dict)  # person id → reason
    stems: int = 0  # distinct stems in the batch
    new_stems: int = 0  # of which seen for the first time (their counters came from existing accounts)
    rounds: int = 0  # rounds of checks against existing accounts (1 when no number was taken)
    skipped: int = 0  # numbers skipped because the username was already held


@dataclass
class _Counter:
    pk: int
    next: int
    start: int  # next_counter as read under the lock: unchanged counters are not written back


def requests_from(people: QuerySet) -> list[tuple[int, dict[str, str]]]:
    """(person id, fields) for every person of a queryset, in id order: what `allocate` takes."""
    rows = people.order_by("pk").values_list("pk", *PERSON_FIELDS)
    return [(row[0], dict(zip(PERSON_FIELDS, row[1:], strict=True))) for row in rows]


def allocate(
    district: District,
    requests: Sequence[tuple[int, Mapping[str, str]]],
    *,
    scheme: Scheme,
    max_length: int,
) -> Allocation:
    """A unique username for each (person id, person fields) request; see the module docstring.

    The fields are the person's model fields by name (`naming.PERSON_FIELDS`, e.g. from `requests_from`);
    each person is rendered with `scheme`, cut to `max_length` characters (numbers included). Nothing but
    counter rows is written; the caller writes the usernames in the same transaction.
    """
    if not 1 <= max_length <= MAX_LENGTH:
        raise ValueError(f"max_length must be between 1 and {MAX_LENGTH}")
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError(
            "allocate() must run inside transaction.atomic(), together with the writes of the usernames"
        )
    result = Allocation()
    waiting: dict[str, deque[int]] = {}  # stem → person ids, in request order
    seen: set[int] = set()
    # Common names repeat: each distinct set of fields is rendered once (stem, or why there is none).
    rendered: dict[tuple[str | None, ...], tuple[str, str]] = {}
    for person_id, fields in requests:
        if person_id in seen:
            raise ValueError(f"person {person_id} appears twice in one allocation")
        seen.add(person_id)
        values = tuple(fields.get(name) for name in PERSON_FIELDS)
        if values not in rendered:
            try:
                rendered[values] = (scheme.render(fields, max_length), "")
            except EmptyUsername as exc:
                rendered[values] = ("", str(exc))
        stem, failure = rendered[values]
        if failure:
            result.failures[person_id] = failure
        else:
            waiting.setdefault(stem, deque()).append(person_id)
    if not waiting:
        return result

    with transaction.atomic():
        counters, result.new_stems = _lock_counters(district, sorted(waiting))
        result.stems = len(counters)
        _hand_out(district, scheme, max_length, waiting, counters, result)
        _write_counters(counters)
    return result


def _stem_key(stem: str) -> str:
    # Rendered stems are lower-case ASCII, for which the key is the stem itself; computed anyway so the
    # counter rows stay keyed exactly like Account.username_key if the character rules ever widen.
    return username_key(stem)


def _chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _in(column: str, values: Sequence[object], pg_type: str) -> tuple[str, list[object]]:
    """`column IN (values)` and its parameters: one array parameter on PostgreSQL (psycopg then need not
    parse a thousand placeholders per statement), plain placeholders on SQLite."""
    if sql.is_postgres():
        return f"{column} = ANY(%s::{pg_type}[])", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


def _rows(
    alias: str, rows: Sequence[tuple[object, ...]], pg_types: Sequence[str]
) -> tuple[str, list[object]]:
    """A FROM item of literal rows whose columns are column1, column2, … on both engines."""
    if sql.is_postgres():
        arrays = ", ".join(f"%s::{pg_type}[]" for pg_type in pg_types)
        names = ", ".join(f"column{i + 1}" for i in range(len(pg_types)))
        return f"unnest({arrays}) AS {alias}({names})", [list(column) for column in zip(*rows, strict=True)]
    one = "(" + ", ".join(["%s"] * len(pg_types)) + ")"
    return f"(VALUES {', '.join([one] * len(rows))}) AS {alias}", [value for row in rows for value in row]


def _lock_counters(district: District, stems: list[str]) -> tuple[dict[str, _Counter], int]:
    """Every stem's counter row, created when missing and locked; and how many were created."""
    keys = sorted({_stem_key(stem) for stem in stems})
    table = sql.table(UsernameStem)
    existing: set[str] = set()
    with connection.cursor() as cursor:
        for chunk in _chunks(keys):
            where, params = _in("stem", chunk, "text")
            cursor.execute(
                f"SELECT stem FROM {table} WHERE district_id = %s AND {where}", [district.pk, *params]
            )
            existing.update(row[0] for row in cursor.fetchall())
    missing = [key for key in keys if key not in existing]
    starts: dict[str, int] = {}
    if missing:
        with _without_jit():
            for chunk in _chunks(missing):
                starts.update(_first_free_numbers(district, chunk))
    counters: dict[str, _Counter] = {}
    with connection.cursor() as cursor:
        for chunk in _chunks(missing):
            # Sorted inserts: two allocations creating the same stems wait for each other in one order. The
            # rows returned are ours alone until commit (an allocation inserting the same stem waits for
            # it); a row another transaction created meanwhile is skipped here and locked below. (WHERE
            # keeps SQLite from reading ON CONFLICT as a join constraint.)
            rows, params = _rows("n", [(key, starts.get(key, 1)) for key in chunk], ["text", "integer"])
            cursor.execute(
                f"""INSERT INTO {table} (district_id, stem, next_counter)
                    SELECT %s, n.column1, n.column2 FROM {rows} WHERE 1 = 1
                    ON CONFLICT DO NOTHING RETURNING id, stem, next_counter""",
                [district.pk, *params],
            )
            for pk, key, next_counter in cursor.fetchall():
                counters[key] = _Counter(pk, next_counter, next_counter)
    # Nothing is locked before the inserts, and everything else is locked after them in one order
    # (code-point order, as Python sorts): concurrent allocations never wait for each other in a cycle.
    order = 'stem COLLATE "C"' if sql.is_postgres() else "stem"
    with connection.cursor() as cursor:
        for chunk in _chunks([key for key in keys if key not in counters]):
            where, params = _in("stem", chunk, "text")
            cursor.execute(
                f"""SELECT id, stem, next_counter FROM {table} WHERE district_id = %s AND {where}
                    ORDER BY {order} {sql.for_update()}""",
                [district.pk, *params],
            )
            for pk, key, next_counter in cursor.fetchall():
                counters[key] = _Counter(pk, next_counter, next_counter)
    return {stem: counters[_stem_key(stem)] for stem in stems}, len(missing)


@contextmanager
def _without_jit() -> Iterator[None]:
    """PostgreSQL's planner cannot estimate a range per stem and prices the first-number scan at hundreds of
    thousands, which triggers JIT compilation: 180 ms per query for a scan that runs in 20. Off for the
    scans only (SET LOCAL, restored after, undone with the transaction)."""
    if not sql.is_postgres():
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit'), set_config('jit', 'off', true)")
        previous = cursor.fetchone()[0]
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('jit', %s, true)", [previous])


def _first_free_numbers(district: District, keys: Sequence[str]) -> dict[str, int]:
    """For stems without a counter row: one past the highest number any existing account holds in each
    stem's series (the bare stem counts as number 1). Stems with no such account are left out (start at 1).

    One query for the whole chunk; each stem is a range scan of the (district, username_key) index, and only
    the maximum per stem leaves the database.
    """
    # Every key starting with the stem sorts in [stem, stem with its last character incremented).
    stems, params = _rows("s", [(key, key[:-1] + chr(ord(key[-1]) + 1)) for key in keys], ["text", "text"])
    suffix = "SUBSTR(a.username_key, LENGTH(s.column1) + 1)"
    if sql.is_postgres():
        numeric = f"{suffix} ~ '^[0-9]{{1,{MAX_SUFFIX_DIGITS}}}$'"
    else:
        numeric = f"LENGTH({suffix}) BETWEEN 1 AND {MAX_SUFFIX_DIGITS} AND {suffix} NOT GLOB '*[^0-9]*'"
    # `username_key IS NOT NULL` is implied by the range, but stated so that the partial unique index is
    # usable; SUBSTR keeps the answer exact whatever a collation does to the range.
    query = f"""
        SELECT s.column1, MAX(CASE WHEN {suffix} = '' THEN 1 ELSE CAST({suffix} AS INTEGER) END)
        FROM {stems}
        JOIN {sql.table(Account)} a
          ON a.district_id = %s AND a.username_key >= s.column1 AND a.username_key < s.column2
        WHERE a.username_key IS NOT NULL
          AND SUBSTR(a.username_key, 1, LENGTH(s.column1)) = s.column1
          AND ({suffix} = '' OR ({numeric}))
        GROUP BY s.column1"""
    with connection.cursor() as cursor:
        cursor.execute(query, [*params, district.pk])
        return {key: int(highest) + 1 for key, highest in cursor.fetchall() if highest is not None}


def _held(district: District, keys: Iterable[str]) -> set[str]:
    """Which of these keys an account of the district holds (one indexed query per 1,000 keys)."""
    ordered = sorted(set(keys))
    held: set[str] = set()
    with connection.cursor() as cursor:
        for chunk in _chunks(ordered):
            where, params = _in("username_key", chunk, "text")
            cursor.execute(
                f"SELECT username_key FROM {sql.table(Account)} WHERE district_id = %s AND {where}",
                [district.pk, *params],
            )
            held.update(row[0] for row in cursor.fetchall())
    return held


def _hand_out(
    district: District,
    scheme: Scheme,
    max_length: int,
    waiting: dict[str, deque[int]],
    counters: dict[str, _Counter],
    result: Allocation,
) -> None:
    """Give every waiting person the next number of their stem whose username nobody holds."""
    taken: set[str] = set()  # keys held by accounts (as checked) or handed out in this batch
    factor = 1
    while waiting:
        result.rounds += 1
        blocks: dict[str, list[tuple[int, str | None]]] = {}
        for stem, people in waiting.items():
            first = counters[stem].next
            numbers = range(first, first + len(people) * factor)
            blocks[stem] = [(n, scheme.compose(stem, n, max_length)) for n in numbers]
        candidates = {username_key(u) for block in blocks.values() for _, u in block if u is not None}
        taken |= _held(district, candidates - taken)
        still: dict[str, deque[int]] = {}
        for stem in sorted(blocks):
            people, counter = waiting[stem], counters[stem]
            for number, username in blocks[stem]:
                if username is None:
                    # Numbers only grow wider: no later one fits either.
                    for person_id in people:
                        result.failures[person_id] = (
                            f"no free username of at most {max_length} characters for {stem!r}"
                        )
                    people.clear()
                    break
                counter.next = number + 1
                key = username_key(username)
                if key in taken:
                    result.skipped += 1
                    continue
                taken.add(key)
                result.usernames[people.popleft()] = username
                if not people:
                    break
            if people:
                still[stem] = people
        waiting = still
        factor = min(factor * 2, MAX_BLOCK_FACTOR)


def _write_counters(counters: dict[str, _Counter]) -> None:
    """Store every counter that moved, 1,000 rows per UPDATE."""
    moved = sorted({(c.pk, c.next) for c in counters.values() if c.next != c.start})
    table = sql.table(UsernameStem)
    with connection.cursor() as cursor:
        for chunk in _chunks(moved):
            rows, params = _rows("v", chunk, ["bigint", "integer"])
            # On PostgreSQL the ids also as an array: without it the planner hashes the whole table for
            # every chunk, a cost that grows with every stem the district ever had.
            where, ids = _in(f"{table}.id", [pk for pk, _ in chunk], "bigint")
            cursor.execute(
                f"UPDATE {table} SET next_counter = v.column2 FROM {rows} WHERE {table}.id = v.column1"
                + (f" AND {where}" if sql.is_postgres() else ""),
                params + (ids if sql.is_postgres() else []),
            )
