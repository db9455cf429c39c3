"""Counting a question over a big table from a random sample of its rows.

A question asked interactively (how many profiles would this rule match?)
cannot read a million profiles and their ten million events on every
keystroke. On PostgreSQL, a table of more than ``EXACT_UP_TO`` rows is
answered from a random sample of about ``SAMPLE_ROWS`` of them: runs of
``RUN`` consecutive ids drawn at random between the smallest and the largest
primary key (a fixed seed, so counts do not jitter while a rule is edited
and the counts of one rule's conditions add up), looked up by index.

Ids, unlike pages, say nothing about when a row was last written: with
``TABLESAMPLE SYSTEM`` the rows updated together (a consent campaign, an
import) share new pages and are sampled all or none. Short runs of ids keep
the sampled profiles' events close together in the indexes (two to three
times faster than single ids at 1M profiles); the margin is computed from
the runs, so the neighbours a run holds (created together) widen it
honestly. A count over the sample is scaled by the runs drawn out of all
runs; smaller tables, and other databases, are counted exactly.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connections
from django.db.models import Max, Min, Model
from django.db.models.expressions import RawSQL

from core.db.estimate import estimated_count

EXACT_UP_TO = 100_000
SAMPLE_ROWS = 5_000
RUN = 10
SEED = 26
# Never draw more runs than this, however sparse the ids are.
MAX_RUNS = 5_000


@dataclass(frozen=True)
class RowSample:
    """The rows found in ``drawn`` runs of ``RUN`` ids out of ``runs`` runs
    from ``low`` up."""

    pks: list[int]
    drawn: int
    runs: int
    low: int

    @property
    def rows(self) -> int:
        return len(self.pks)

    def ids(self) -> RawSQL:
        """The sampled primary keys as one array parameter, for ``pk__in=`` and
        ``customer_id__in=``: a subquery the planner joins by index, id by
        id, rather than every row of a big table against a hash of ids."""
        return RawSQL("SELECT unnest(%s::bigint[])", (self.pks,))

    def scale(self, count: int) -> int:
        """``count`` rows of the sample, as rows of the whole table (each run
        was drawn with the chance ``drawn / runs``)."""
        return round(count * self.runs / self.drawn)

    def margin(self, matched: Iterable[int]) -> int:
        """Half the width of a 95 % interval around ``scale`` of the
        ``matched`` sampled ids: from the variance of the count per run."""
        per_run = Counter((pk - self.low) // RUN for pk in matched)
        counts = [*per_run.values(), *[0] * (self.drawn - len(per_run))]
        if self.drawn < 2:
            return 0
        mean = sum(counts) / self.drawn
        variance = sum((c - mean) ** 2 for c in counts) / (self.drawn - 1)
        spread = self.runs**2 * (1 - self.drawn / self.runs) * variance / self.drawn
        return round(1.96 * math.sqrt(spread))


def row_sample(model: type[Model]) -> RowSample | None:
    """A random sample of ``model``'s rows, or ``None`` when the table is small
    enough (or the database is not PostgreSQL) to be counted exactly."""
    manager = model._default_manager
    table_rows = estimated_count(manager.all())
    if table_rows is None or table_rows <= EXACT_UP_TO:
        return None
    bounds = manager.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return None
    low, high = bounds["low"], bounds["high"]
    runs = (high - low) // RUN + 1
    wanted = math.ceil(SAMPLE_ROWS * (high - low + 1) / table_rows / RUN)
    drawn = max(1, min(runs, MAX_RUNS, wanted))
    draw = random.Random(SEED)  # noqa: S311 - a statistical sample, not a secret
    starts = sorted(low + run * RUN for run in draw.sample(range(runs), drawn))
    candidates = [start + k for start in starts for k in range(RUN)]
    connection = connections[manager.db]
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {pk} FROM {table} WHERE {pk} = ANY(%s) ORDER BY {pk}",  # noqa: S608
            (candidates,),
        )
        pks = [row[0] for row in cursor.fetchall()]
    return RowSample(pks=pks, drawn=drawn, runs=runs, low=low) if pks else None
