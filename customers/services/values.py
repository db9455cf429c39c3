r"""Typed custom-trait values: numbers, yes/no and dates read from text.

File imports type each custom-trait column with these (``sources.imports.cells``)
and ``manage.py retype_traits`` converts values already stored with them, so a
value reads the same way whichever way it came in. A number is
``-?\d+(\.\d+)?`` once one currency symbol and one thousands separator
(``,``, a space or ``'``) are taken out, without a leading zero (``02116`` is
a code) and with at most 15 digits (longer ones are ids).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from django.utils.dateparse import parse_date, parse_datetime

from customers.services.normalize import InvalidValue, normalize_date

DMY, MDY = "DMY", "MDY"
DATE_ORDERS = (DMY, MDY)
MAX_DIGITS = 15

_CURRENCY = "$€£¥₹₽₩₺₪₫₱฿"
_NUMBER = re.compile(
    rf"^(?P<sign>-?)\s*(?P<pre>[{_CURRENCY}]?)\s*(?P<sign2>-?)"
    r"(?P<digits>[0-9][0-9,' \u00a0\u202f]*?)(?P<fraction>\.[0-9]+)?"
    rf"\s*(?P<post>[{_CURRENCY}]?)$"
)
_GROUPED = re.compile(r"^[0-9]{1,3}(?P<sep>[,' \u00a0\u202f])[0-9]{3}(?:(?P=sep)[0-9]{3})*$")
_TRUE = frozenset({"true", "yes"})
_FALSE = frozenset({"false", "no"})
_SLASHED = re.compile(r"^\s*(\d{1,2})[/-](\d{1,2})[/-](\d{4})(?:$|[ T])")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class NumberShape:
    """How a number cell was written: its currency symbol and thousands separator."""

    currency: str
    separator: str


def number_shape(text: str) -> NumberShape | None:
    """The shape of a number written with at most one currency symbol and
    thousands separator, or None when the text is not such a number."""
    match = _NUMBER.match(text.strip())
    if match is None or (match["sign"] and match["sign2"]) or (match["pre"] and match["post"]):
        return None
    digits = match["digits"]
    separator = ""
    if not digits.isdigit():
        grouped = _GROUPED.match(digits)
        if grouped is None:
            return None
        separator = grouped["sep"]
        digits = digits.replace(separator, "")
    if len(digits) > 1 and digits[0] == "0":  # 02116: a code, not a number
        return None
    if len(digits) + len(match["fraction"] or ".") - 1 > MAX_DIGITS:
        return None
    return NumberShape(match["pre"] or match["post"], separator)


def read_number(text: str) -> int | float | None:
    """The number in a cell (``$1,234.50`` → 1234.5, ``500`` → 500), or None."""
    if number_shape(text) is None:
        return None
    plain = re.sub(rf"[\s,'\u00a0\u202f{_CURRENCY}]", "", text)
    return int(plain) if re.fullmatch(r"-?[0-9]+", plain) else float(plain)


def read_boolean(text: str) -> bool | None:
    value = text.strip().lower()
    return True if value in _TRUE else False if value in _FALSE else None


def slashed_order(text: str) -> str | None:
    """The only order a ``a/b/yyyy`` date can be in (DMY when a > 12, MDY when
    b > 12), or None when either reading works or the text is no such date."""
    match = _SLASHED.match(text)
    if match is None:
        return None
    first, second = int(match[1]), int(match[2])
    if first > 12 >= second:
        return DMY
    if second > 12 >= first:
        return MDY
    return None


def read_date(text: str, *, order: str = "") -> date | None:
    """A calendar date written any common way (see ``normalize_date``), in the
    column's ``order`` when it is ``a/b/yyyy``; None when it is not a date."""
    try:
        return normalize_date(text, dayfirst=_dayfirst(order))
    except InvalidValue:
        return None


def iso_date(text: str, *, order: str = "") -> str | None:
    """The date as ``YYYY-MM-DD`` (ISO text with a time is kept as it is), or None."""
    stripped = text.strip()
    if _ISO_DAY.match(stripped):
        if len(stripped) == 10:
            return stripped if _parse(parse_date, stripped) is not None else None
        return stripped if _parse(parse_datetime, stripped) is not None else None
    day = read_date(stripped, order=order)
    return day.isoformat() if day is not None else None


def is_date(text: str) -> bool:
    """Readable as a date in one order or the other."""
    return iso_date(text, order=DMY) is not None or iso_date(text, order=MDY) is not None


def _parse(parser, text: str):
    try:
        return parser(text)
    except ValueError:
        return None


def _dayfirst(order: str) -> bool | None:
    return {DMY: True, MDY: False}.get(order)
