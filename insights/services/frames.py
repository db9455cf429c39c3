"""Whole-table reads into pandas, without the ORM's per-value work.

Results are fetched whole, not through server-side cursors: PostgreSQL plans
a cursor for its first rows (nested loops), which made the grouped queries
of a snapshot many times slower. On PostgreSQL the rows come as one
``COPY (query) TO STDOUT`` CSV stream that pandas parses in C; elsewhere
as plain rows. Moments are read as numbers (``Epoch`` seconds,
``EpochMicros``): loading a million datetime objects costs seconds.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import pandas as pd
from django.db import connection
from django.db.models import BigIntegerField, FloatField, Func


def read_frame(queryset, *, texts: Sequence[str] = ()) -> pd.DataFrame:
    """The rows of a ``values`` query, named by its columns (in the order SQL
    returns them), without the ORM's converters: only for numbers, ids,
    ``Epoch``/``EpochMicros`` moments and the ``texts`` columns, which need none."""
    query = queryset.query
    columns = [*query.extra_select, *query.values_select, *query.annotation_select]
    sql, params = query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(sql, params)
            return pd.DataFrame(cursor.fetchall(), columns=columns)
        buffer = io.BytesIO()
        with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy:
            for data in copy:
                buffer.write(data)
    buffer.seek(0)
    if not buffer.getbuffer().nbytes:
        return pd.DataFrame(columns=columns)
    return pd.read_csv(
        buffer,
        header=None,
        names=columns,
        dtype=dict.fromkeys(texts, str),
        keep_default_na=False,
        na_values={column: [""] for column in columns if column not in texts},
    )


class Epoch(Func):
    """A datetime as seconds since 1970 (a double)."""

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"EXTRACT(EPOCH FROM {sql})::double precision", params

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"((julianday({sql}) - 2440587.5) * 86400.0)", params


class EpochMicros(Func):
    """A datetime as whole microseconds since 1970, exactly (a double holds
    them exactly until the year 2255, so a column with gaps loses nothing)."""

    output_field = BigIntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(EXTRACT(EPOCH FROM {sql}) * 1000000)::bigint", params

    def as_sqlite(self, compiler, connection, **extra):
        # Stored as text, "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC: whole seconds
        # from julianday (rounded: exact), the fraction from the text.
        sql, params = compiler.compile(self.source_expressions[0])
        seconds = f"CAST(round((julianday(substr({sql}, 1, 19)) - 2440587.5) * 86400.0) AS INTEGER)"
        fraction = f"CAST(substr({sql} || '.000000', 21, 6) AS INTEGER)"
        return f"({seconds} * 1000000 + {fraction})", [*params, *params]
