"""Counting a question over a big table from a sample of its pages.

A question asked interactively (how many profiles would this rule match?)
cannot read a million profiles and their ten million events on every
keystroke. On PostgreSQL, a table bigger than ``EXACT_UP_TO`` rows is
answered from ``TABLESAMPLE SYSTEM``: a random set of about
``SAMPLE_ROWS`` rows' pages, the same pages for every question (a fixed
``REPEATABLE`` seed, so counts do not jitter while a rule is edited and the
counts of one rule's conditions add up). A count over the sample is scaled by
the table's rows over the sample's rows (a ratio estimate: PostgreSQL's own
row estimate of the table, which follows its current size). Smaller tables,
and other databases, are counted exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections
from django.db.models import Model
from django.db.models.expressions import RawSQL

from core.db.estimate import estimated_count

EXACT_UP_TO = 200_000
SAMPLE_ROWS = 20_000
SEED = 26
_SAMPLED = "TABLESAMPLE SYSTEM (%s) REPEATABLE (%s)"


@dataclass(frozen=True)
class PageSample:
    """About ``rows`` rows of ``table`` out of an estimated ``table_rows``."""

    table: str
    pk_column: str
    percent: float
    rows: int
    table_rows: int

    def ids(self) -> RawSQL:
        """The sampled rows' primary keys, for ``pk__in=``."""
        return RawSQL(  # noqa: S611 - names come from the model, numbers are parameters
            f"SELECT {self.pk_column} FROM {self.table} {_SAMPLED}",  # noqa: S608
            (self.percent, SEED),
        )

    def scale(self, count: int) -> int:
        """``count`` rows of the sample, as rows of the whole table."""
        return round(count * self.table_rows / self.rows)


def page_sample(model: type[Model]) -> PageSample | None:
    """A sample of ``model``'s table, or ``None`` when it is small enough (or
    the database is not PostgreSQL) to be counted exactly."""
    manager = model._default_manager
    table_rows = estimated_count(manager.all())
    if table_rows is None or table_rows <= EXACT_UP_TO:
        return None
    connection = connections[manager.db]
    quote = connection.ops.quote_name
    table = model._meta.db_table
    percent = min(100.0, 100.0 * SAMPLE_ROWS / table_rows)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {quote(table)} {_SAMPLED}",  # noqa: S608 - the model's table
            (percent, SEED),
        )
        sampled = cursor.fetchone()[0]
    if not sampled:
        return None
    return PageSample(
        table=quote(table),
        pk_column=quote(model._meta.pk.column),
        percent=percent,
        rows=sampled,
        table_rows=table_rows,
    )
