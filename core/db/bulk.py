"""Database helpers for the hot write paths.

``QuerySet.bulk_update`` builds one ``CASE WHEN pk = … THEN …`` expression
per object and field: tens of milliseconds of Python for a few hundred rows
and a quadratic ``CASE`` for the database. ``update_rows`` sends the new
values as one ``VALUES`` list joined on the primary key instead (both
PostgreSQL and SQLite ≥ 3.33 support ``UPDATE … FROM``).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models


def update_rows(
    model: type[models.Model],
    objs: Sequence[models.Model],
    fields: Sequence[str],
    *,
    increment: Sequence[str] = (),
):
    """Write ``fields`` of each object (already set in memory) in one statement;
    the integer columns ``increment`` go up by one in it (not in memory)."""
    if not objs or not fields:
        return
    quote = connection.ops.quote_name
    columns = [model._meta.pk, *(model._meta.get_field(name) for name in fields)]
    if connection.vendor == "postgresql":
        # VALUES literals arrive untyped: cast each to its column's type
        placeholders = [f"CAST(%s AS {column.db_type(connection)})" for column in columns]
    else:
        placeholders = ["%s"] * len(columns)
    row = f"({', '.join(placeholders)})"
    params = [
        column.get_db_prep_save(getattr(obj, column.attname), connection)
        for obj in objs
        for column in columns
    ]
    table = quote(model._meta.db_table)
    assignments = ", ".join(
        [
            *(
                f"{quote(column.column)} = v.column{position}"
                for position, column in enumerate(columns[1:], start=2)
            ),
            *(
                f"{quote(column)} = {table}.{quote(column)} + 1"
                for column in (model._meta.get_field(name).column for name in increment)
            ),
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {assignments} "  # noqa: S608 - names come from the model
            f"FROM (VALUES {', '.join([row] * len(objs))}) AS v "
            f"WHERE {table}.{quote(columns[0].column)} = v.column1",
            params,
        )


def commit_asynchronously() -> None:
    """Let the current transaction's COMMIT return before its WAL reaches disk.

    Only for work that can be redone from something already durable: a crash
    of the database server may lose the last fraction of a second of such
    transactions, never corrupt anything. Processing stored intake rows is
    such work — the raw call was committed synchronously before it was
    acknowledged, and its ``processed`` mark rolls back with the work.
    """
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
