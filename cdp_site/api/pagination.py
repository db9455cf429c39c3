"""Cursor pagination, the default for every list: stable under inserts, no COUNT(*).

A view picks its order with ``cursor_ordering`` (default ``-id``); use a
field that is indexed and rarely ties, e.g. ``("-timestamp", "-id")``.
"""

from __future__ import annotations

from rest_framework import exceptions, pagination


class CursorPagination(pagination.CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("-id",)

    def get_ordering(self, request, queryset, view):
        ordering = getattr(view, "cursor_ordering", None) or self.ordering
        return (ordering,) if isinstance(ordering, str) else tuple(ordering)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError(
                {self.cursor_query_param: ["Invalid cursor."]}
            ) from None
