"""Planner settings for the whole-table reads of a daily run or a training.

The grouped reads over every profile's events want hash joins; where
statistics are missing or JSON conditions defeat estimates, PostgreSQL
expects a handful of rows and picks nested loops over every partition (40 s
instead of 1 s for 20,000 profiles). As in ``segments.services`` for segment
recomputes, nested loops are switched off (and JIT, which costs more than it
saves here) — with ``SET LOCAL``, for the enclosing transaction only. The
one-profile path (a purchase arriving) does not use this.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connection, transaction


@contextlib.contextmanager
def bulk_reads() -> Iterator[None]:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_nestloop = off")
                cursor.execute("SET LOCAL jit = off")
                cursor.execute("SET LOCAL work_mem = '64MB'")
        yield
