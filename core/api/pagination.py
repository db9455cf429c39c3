"""Cursor pagination, the default for every list: stable under inserts, no COUNT(*).

A view picks its order with ``cursor_ordering`` (default ``-id``); use a
field that is indexed and rarely ties, e.g. ``("-timestamp", "-id")``.

A cursor comes back from the client, so it is untrusted: one that does not
decode, or whose position is not a value of the ordering field (text for an
id, an integer beyond the column's range, a NUL, a date past year 9999), is
a 400 ``invalid`` naming the ``cursor`` parameter, never a database error.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import connection
from rest_framework import exceptions, pagination


class CursorPagination(pagination.CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("-id",)
    _model = None

    def get_ordering(self, request, queryset, view):
        ordering = getattr(view, "cursor_ordering", None) or self.ordering
        return (ordering,) if isinstance(ordering, str) else tuple(ordering)

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise self._invalid() from None
        if cursor is not None and cursor.position is not None:
            self._check_position(cursor.position)
        return cursor

    def _check_position(self, position: str) -> None:
        """The position must be a value the ordering field's column can hold."""
        if "\x00" in position:
            raise self._invalid()
        try:
            field = self._model._meta.get_field(self.ordering[0].lstrip("-"))
        except (AttributeError, FieldDoesNotExist):
            return  # ordering on an annotation: nothing to check it against
        try:
            value = field.to_python(position)
            field.run_validators(value)  # integer fields: the database's range
            if isinstance(value, datetime):
                value.astimezone(UTC)  # year 1 or 9999 with an offset overflows
            field.get_db_prep_value(value, connection)
        except (ValidationError, ValueError, TypeError, OverflowError):
            raise self._invalid() from None

    def _invalid(self) -> exceptions.ValidationError:
        return exceptions.ValidationError({self.cursor_query_param: ["Invalid cursor."]})
