"""Database helpers for the hot write paths.

``QuerySet.bulk_update`` builds one ``CASE WHEN pk = … THEN …`` expression
per object and field: tens of milliseconds of Python for a few hundred rows
and a quadratic ``CASE`` for the database. ``update_rows`` joins the new
values on the primary key in one ``UPDATE … FROM`` instead (PostgreSQL and
SQLite ≥ 3.33): on PostgreSQL as one array per column, unnested, so the
statement has a parameter per column whatever the number of rows (a
``VALUES`` list of a thousand profiles, ten thousand cast placeholders, took
16 ms to parse); on SQLite as a ``VALUES`` list.
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
    names = [f"column{position}" for position in range(1, len(columns) + 1)]
    if connection.vendor == "postgresql":
        # one array per column, typed as the column: unnest makes rows of them
        arrays = ", ".join(f"%s::{column.db_type(connection)}[]" for column in columns)
        source = f"unnest({arrays}) AS v({', '.join(names)})"
        params = [
            [column.get_db_prep_save(getattr(obj, column.attname), connection) for obj in objs]
            for column in columns
        ]
    else:
        # a VALUES list names its columns column1, column2, …
        row = f"({', '.join(['%s'] * len(columns))})"
        source = f"(VALUES {', '.join([row] * len(objs))}) AS v"
        params = [
            column.get_db_prep_save(getattr(obj, column.attname), connection)
            for obj in objs
            for column in columns
        ]
    table = quote(model._meta.db_table)
    assignments = ", ".join(
        [
            *(
                f"{quote(column.column)} = v.{name}"
                for name, column in zip(names[1:], columns[1:], strict=True)
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
            f"FROM {source} "
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
