"""Set-at-a-time writes: ids that stay in the database between statements.

A bulk change (a segment recompute entering 400,000 profiles) is a few
statements over temporary tables of ids. Fetching the ids into Python and
sending them back as parameters costs more than the writes themselves, and
the planner needs to be told it is joining hundreds of thousands of rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress

from django.db import DatabaseError, connection
from django.db.models.expressions import RawSQL


@contextmanager
def bulk_planning(cursor) -> Iterator[None]:
    """Plan the statements run inside for big sets (PostgreSQL; a no-op elsewhere).

    Temporary tables and JSON conditions defeat row estimates: a table filled
    in this transaction may still count as empty, and the planner then picks
    a nested loop that reads a 400,000-row table once per row of another
    (hours instead of a second). Hash joins only, memory for them and the
    aggregates, and no JIT compilation for statements run once.
    """
    if connection.vendor != "postgresql":
        yield
        return
    cursor.execute("SET enable_nestloop = off")
    cursor.execute("SET work_mem = '64MB'")
    cursor.execute("SET jit = off")
    try:
        yield
    except Exception:
        # a failed statement aborts the transaction, whose rollback undoes the SETs
        with suppress(DatabaseError):
            _reset(cursor)
        raise
    _reset(cursor)


def _reset(cursor) -> None:
    for name in ("enable_nestloop", "work_mem", "jit"):
        cursor.execute(f"RESET {name}")


def create_id_table(cursor, table: str, select: str = "", params=()) -> None:
    """A temporary table ``table (customer_id)``, filled by ``select`` if given.

    On PostgreSQL it is created by ``CREATE TABLE AS``, which may scan in
    parallel where ``INSERT … SELECT`` may not, and analyzed once filled.
    """
    cursor.execute(f"DROP TABLE IF EXISTS {table}")
    if connection.vendor == "postgresql":
        # no index to maintain: statements over these tables are hash joins
        if select:
            cursor.execute(f"CREATE TEMPORARY TABLE {table} (customer_id) AS {select}", params)
            cursor.execute(f"ANALYZE {table}")
        else:
            cursor.execute(f"CREATE TEMPORARY TABLE {table} (customer_id bigint)")
        return
    cursor.execute(f"CREATE TEMPORARY TABLE {table} (customer_id bigint PRIMARY KEY)")
    if select:
        cursor.execute(f"INSERT INTO {table} (customer_id) {select}", params)


def id_batches(ids: Sequence[int], size: int = 5000) -> Iterator[Sequence[int] | RawSQL]:
    """The right-hand sides of ``__in`` lookups covering ``ids``: on PostgreSQL
    one, an array bound as a single parameter (Django prepares thousands of
    separate parameters value by value, and psycopg splits the query text
    around each); elsewhere chunks of ``size``."""
    if connection.vendor == "postgresql":
        if ids:
            yield RawSQL("SELECT unnest(%s::bigint[])", (list(ids),))
        return
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def create_copied_table(
    cursor, table: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[object]]
) -> None:
    """A temporary table ``table`` of ``columns`` (name, SQL type), filled with
    plain values (ints, strings, None) by ``COPY`` and analyzed: PostgreSQL
    only (a mapping of ids for ``UPDATE … FROM``, without sending it back as
    thousands of bound parameters)."""
    if connection.vendor != "postgresql":
        raise NotImplementedError("create_copied_table needs PostgreSQL's COPY")
    cursor.execute(f"DROP TABLE IF EXISTS {table}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {table} ({', '.join(f'{name} {kind}' for name, kind in columns)})"
    )
    names = ", ".join(name for name, _ in columns)
    with (
        connection.wrap_database_errors,
        cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
    cursor.execute(f"ANALYZE {table}")


def keep_returned(cursor, statement: str, params, table: str) -> int:
    """Run ``statement`` (an ``INSERT`` or ``UPDATE … RETURNING`` one id column)
    and add the ids it returned to the temporary ``table``; return how many.

    On PostgreSQL the ids never leave the server (a data-modifying ``WITH``);
    SQLite cannot insert from ``RETURNING``, so they make the round trip.
    """
    if connection.vendor == "postgresql":
        cursor.execute(
            f"WITH returned AS ({statement}) "  # noqa: S608 - names come from the caller
            f"INSERT INTO {table} (customer_id) SELECT * FROM returned",
            params,
        )
        count = cursor.rowcount
        cursor.execute(f"ANALYZE {table}")
        return count
    cursor.execute(statement, params)
    rows = cursor.fetchall()
    cursor.executemany(f"INSERT INTO {table} (customer_id) VALUES (%s)", rows)  # noqa: S608
    return len(rows)


def drop_tables(cursor, *tables: str) -> None:
    for table in tables:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
