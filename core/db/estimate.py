"""Counting big tables without counting them: the planner's row estimate.

An exact ``COUNT(*)`` reads every row (or every index entry) that matches: on
ten million events that is seconds per page of a list. PostgreSQL's planner
already knows about how many rows a query returns (``reltuples`` and the
column statistics ``ANALYZE`` keeps); ``EXPLAIN`` reads it without running
the query. Small results are counted exactly, where a count is cheap and an
estimate would be visibly wrong; SQLite has no estimate and always counts.
"""

from __future__ import annotations

import json

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

# Below this many rows (estimated) the exact count is taken instead.
EXACT_BELOW = 10_000


def estimated_count(queryset: QuerySet) -> int | None:
    """How many rows ``queryset`` returns, as the PostgreSQL planner estimates
    it (``None`` on other databases, or when the query cannot be explained)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    query = queryset.query.clone()
    query.clear_ordering(force=True)
    try:
        sql, params = query.sql_with_params()
    except EmptyResultSet:  # e.g. ``pk__in=[]``: nothing to estimate, the count is 0
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """A change list's paginator that shows "about N" on big results: the
    planner's estimate from ``EXACT_BELOW`` rows up, an exact count below
    (and always on SQLite). ``estimated`` says which one ``count`` is; the
    admin's pagination template (``template_name``) writes "about" then."""

    template_name = "admin/estimated_pagination.html"
    estimated = False

    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, QuerySet):
            estimate = estimated_count(self.object_list)
            if estimate is not None and estimate >= EXACT_BELOW:
                self.estimated = True
                return estimate
        return super().count
