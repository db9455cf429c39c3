"""Counting a question over a big table from a sample of its pages.

A question asked interactively (how many profiles would this rule match?)
cannot read a million profiles and their ten million events on every
keystroke. On PostgreSQL, a table bigger than ``EXACT_UP_TO`` rows is
answered from ``TABLESAMPLE SYSTEM``: the rows of a random set of pages,
about ``SAMPLE_ROWS`` of them, the same pages for every question (a fixed
``REPEATABLE`` seed, so counts do not jitter while a rule is edited and the
counts of one rule's conditions add up). A count over the sample is scaled by
the table's rows over the sample's rows (a ratio estimate: PostgreSQL's own
row estimate of the table, which follows its current size). Smaller tables,
and other databases, are counted exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db import connections
from django.db.models import Model
from django.db.models.expressions import RawSQL

from core.db.estimate import estimated_count

EXACT_UP_TO = 100_000
SAMPLE_ROWS = 5_000
SEED = 26


@dataclass(frozen=True)
class PageSample:
    """The primary keys of about ``SAMPLE_ROWS`` rows of a table of an
    estimated ``table_rows``."""

    pks: list[int]
    table_rows: int

    @property
    def rows(self) -> int:
        return len(self.pks)

    def ids(self) -> RawSQL:
        """The sampled primary keys as one array parameter, for ``pk__in=`` and
        ``customer_id__in=``: a subquery the planner joins by index, id by
        id, rather than every row of a big table against a hash of ids."""
        return RawSQL("SELECT unnest(%s::bigint[])", (self.pks,))

    def scale(self, count: int) -> int:
        """``count`` rows of the sample, as rows of the whole table."""
        return round(count * self.table_rows / self.rows)

    def margin(self, count: int) -> int:
        """Half the width of a 95 % interval around ``scale(count)``, as if the
        rows were drawn one by one (pages hold neighbours, which may be alike:
        the true margin can be wider)."""
        share = count / self.rows
        return round(1.96 * math.sqrt(share * (1 - share) / self.rows) * self.table_rows)


def page_sample(model: type[Model]) -> PageSample | None:
    """A sample of ``model``'s table, or ``None`` when it is small enough (or
    the database is not PostgreSQL) to be counted exactly."""
    manager = model._default_manager
    table_rows = estimated_count(manager.all())
    if table_rows is None or table_rows <= EXACT_UP_TO:
        return None
    connection = connections[manager.db]
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    percent = min(100.0, 100.0 * SAMPLE_ROWS / table_rows)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {pk} FROM {table} TABLESAMPLE SYSTEM (%s) REPEATABLE (%s)",  # noqa: S608
            (percent, SEED),
        )
        pks = [row[0] for row in cursor.fetchall()]
    return PageSample(pks=pks, table_rows=table_rows) if pks else None
