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
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

# Results up to this many rows are counted exactly (reading at most one more).
EXACT_UP_TO = 10_000
# ``count`` when there is no estimate either: every page number stays valid.
UNKNOWN = 10**12


def estimated_count(queryset: QuerySet) -> int | None:
    """How many rows ``queryset`` returns, as the PostgreSQL planner estimates
    it (``None`` on other databases)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    query = queryset.query.clone()
    query.clear_ordering(force=True)
    try:
        sql, params = query.sql_with_params()
    except EmptyResultSet:  # e.g. ``pk__in=[]``
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """A change list's paginator that never counts a big result row by row.

    Up to ``EXACT_UP_TO`` rows the count is exact (a count that stops after
    one row more); beyond, it is the planner's estimate on PostgreSQL
    (``estimated``, shown as "about N"), and elsewhere unknown (``unknown``:
    previous and next pages only). The admin's pagination template
    (``template_name``) says which.

    An estimate may fall short of the real count, so beyond ``EXACT_UP_TO``
    any page number is accepted (a page past the end is empty, not an error).
    """

    template_name = "admin/estimated_pagination.html"
    estimated = False
    unknown = False

    @cached_property
    def count(self) -> int:
        if not isinstance(self.object_list, QuerySet):
            return super().count
        # unordered: the database stops at the first rows it finds, in any order
        first = self.object_list.order_by()[: EXACT_UP_TO + 1].count()
        if first <= EXACT_UP_TO:
            return first
        estimate = estimated_count(self.object_list)
        if estimate is None:
            self.unknown = True
            return UNKNOWN
        self.estimated = True
        return max(estimate, EXACT_UP_TO + 1)

    @property
    def exact_up_to(self) -> int:
        return EXACT_UP_TO

    @property
    def open_ended(self) -> bool:
        return self.count > EXACT_UP_TO  # (computing the count sets the flags)

    def validate_number(self, number):
        if not self.open_ended:
            return super().validate_number(number)
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return number

    def page(self, number):
        number = self.validate_number(number)
        if not self.open_ended:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        return _OpenEndedPage(self.object_list[bottom : bottom + self.per_page], number, self)


class _OpenEndedPage(Page):
    """A page of a result whose last page is not known: there is a next page
    when this one is full."""

    def has_next(self) -> bool:
        return len(self.object_list) == self.paginator.per_page
