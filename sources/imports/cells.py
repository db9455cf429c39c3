"""Cells of export files: text guards, times, month/day birthdays, and what a column holds.

Spreadsheets and the tools that export them write one value many ways:
``'02116`` (Excel's guard that keeps a leading zero), ``$1,234.50``,
``3/14/1985`` (US) or ``14/03/1985``. Single values are read by
``customers.services.values`` (numbers, yes/no, dates) and here (times,
``MM/DD``); ``ColumnSurvey`` learns, over a whole column, how the column is
to be read:

* its **type**, for custom traits: ``number`` when every non-empty cell is a
  number (one currency symbol and one thousands separator for the whole
  column), ``boolean`` when every one is true/false/yes/no, ``date`` when
  every one is a date, else ``text``;
* its **date order**: ``MDY`` when some ``a/b/yyyy`` date only reads
  month-first (``3/14/1985``) and none only day-first, ``DMY`` the other way
  round, else undecided (``01/02/1985`` alone is ambiguous).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from customers.services.values import (
    is_date,
    number_shape,
    read_boolean,
    read_date,
    slashed_order,
)

TYPES = ("number", "boolean", "date", "month_day", "text")
_MONTH_DAY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([ap]\.?m\.?)?$", re.IGNORECASE)
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def unguard(text: str) -> str:
    """The cell without Excel's leading ``'`` text guard (``'02116`` → ``02116``)."""
    return text[1:].strip() if text.startswith("'") else text


def read_timestamp(text: str, *, order: str = "") -> datetime | None:
    """An aware time: ISO 8601 (``2024-03-14 10:22:05 -0400``), a date, or a
    written date with a time (``3/14/2024 10:22 PM``, in the column's order);
    None when it is none of these. Times without a zone are in ``TIME_ZONE``."""
    try:
        parsed = parse_datetime(text.strip())
    except ValueError:
        return None
    if parsed is None:
        date_text, _, time_text = text.strip().partition(" ")
        day = read_date(date_text, order=order)
        clock = _read_time(time_text) if time_text else (0, 0, 0)
        if day is None or clock is None:
            return None
        parsed = datetime(day.year, day.month, day.day, *clock)  # noqa: DTZ001 - made aware below
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_current_timezone())
    return parsed


def read_month_day(text: str) -> str | None:
    """A birthday without a year (Mailchimp's ``MM/DD``) as ``MM/DD``, or None."""
    match = _MONTH_DAY.match(text.strip())
    if match is None:
        return None
    month, day = int(match[1]), int(match[2])
    if not 1 <= month <= 12 or not 1 <= day <= _DAYS_IN_MONTH[month - 1]:
        return None
    return f"{month:02d}/{day:02d}"


def _read_time(text: str) -> tuple[int, int, int] | None:
    match = _TIME.match(text.strip())
    if match is None:
        return None
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    meridiem = (match[4] or "").replace(".", "").lower()
    if meridiem:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return hour, minute, second


@dataclass
class ColumnSurvey:
    """What the cells of one column have in common, learnt one cell at a time.

    ``typed``: learn the column's type (custom-trait columns); ``dated``:
    learn its date order (columns that may hold dates).
    """

    typed: bool = False
    dated: bool = False
    _candidates: set[str] = field(default_factory=lambda: {"number", "boolean", "date"})
    _currency: set[str] = field(default_factory=set)
    _separator: set[str] = field(default_factory=set)
    _orders: set[str] = field(default_factory=set)
    _seen: bool = False

    def add(self, text: str) -> None:
        if not text:
            return
        self._seen = True
        if self.dated and (order := slashed_order(text)) is not None:
            self._orders.add(order)
        if not self.typed or not self._candidates:
            return
        if "number" in self._candidates:
            shape = number_shape(text)
            if shape is None:
                self._candidates.discard("number")
            else:
                self._currency.add(shape.currency)
                self._separator.add(shape.separator)
        if "boolean" in self._candidates and read_boolean(text) is None:
            self._candidates.discard("boolean")
        if "date" in self._candidates and not is_date(text):
            self._candidates.discard("date")

    @property
    def order(self) -> str:
        """DMY or MDY when the column's dates read one way only, else ""."""
        return next(iter(self._orders)) if len(self._orders) == 1 else ""

    @property
    def type(self) -> str:
        if not self._seen:
            return "text"
        consistent = len(self._currency - {""}) <= 1 and len(self._separator - {""}) <= 1
        if "number" in self._candidates and consistent:
            return "number"
        for candidate in ("boolean", "date"):
            if candidate in self._candidates:
                return candidate
        return "text"
