"""Comparison levels: how alike two records are, field by field.

Each comparison returns a level index into its ``LEVELS`` (0 = different,
higher = closer) or ``None`` when either side is missing (missing values
are neutral: they add no weight either way).

- names: exact (nicknames mapped first), Jaro-Winkler ≥ 0.92 or one
  edit apart (one typo, an OCR slip; a short name like ``Rey``/``Rcy`` or
  ``Luz``/``Lzu`` is one edit apart but far apart by Jaro-Winkler),
  ≥ 0.80 (a phonetic respelling), an initial that matches
  (``J.`` for ``Johanna``); first and last names are compared crosswise
  too, so swapped names compare as agreeing;
- email: exact; same mailbox at another domain, or one edit apart;
- phone: exact; one digit mistyped or two transposed;
- birthday: exact; day and month swapped or one digit wrong; same year;
- address (street line, postcode and city together: one fact, where
  someone lives, not three): same street (alike, same house number); same
  postcode and city; same postcode or city; elsewhere.
- phone again, when it agrees: ``exact`` or ``shared at the same address``,
  a level of its own because relatives share a landline.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from customers.linkage.records import Record

NAME_LEVELS = ("different", "initial", "similar", "close", "exact")
LEVELS: dict[str, tuple[str, ...]] = {
    "first_name": NAME_LEVELS,
    "last_name": NAME_LEVELS,
    "email": ("different", "close", "exact"),
    "phone": ("different", "close", "exact", "exact, shared address"),
    "birthday": ("different", "same year", "close", "exact"),
    "address": ("different", "same postcode or city", "same postcode and city", "same street"),
}
COMPARED = tuple(LEVELS)
# the levels that count as full agreement (the phone's shared landline is one)
AGREED = {name: {levels[-1]} for name, levels in LEVELS.items()}
AGREED["phone"] = {"exact", "exact, shared address"}


def outcome(name: str, level: str) -> str:
    """What a steward reads for a stored level: agreed, partly agreed,
    disagreed or missing."""
    if level == "missing" or name not in LEVELS:
        return "missing"
    if level in AGREED[name]:
        return "agreed"
    return "disagreed" if level == LEVELS[name][0] else "partly agreed"


def name_level(a: str, b: str) -> int | None:
    if not a or not b:
        return None
    if a == b:
        return 4
    similarity = JaroWinkler.similarity(a, b)
    if similarity >= 0.92 or (min(len(a), len(b)) >= 3 and DamerauLevenshtein.distance(a, b) <= 1):
        return 3
    if similarity >= 0.80:
        return 2
    if (len(a) == 1 or len(b) == 1) and a[0] == b[0]:
        return 1
    return 0


def names(a: Record, b: Record) -> tuple[int | None, int | None]:
    """(first, last) levels, crosswise when the names look swapped."""
    direct = (name_level(a.first, b.first), name_level(a.last, b.last))
    if a.first == b.first or a.last == b.last:
        return direct
    crossed = (name_level(a.first, b.last), name_level(a.last, b.first))
    if (crossed[0] or 0) + (crossed[1] or 0) > (direct[0] or 0) + (direct[1] or 0):
        return crossed
    return direct


def email_level(a: str, b: str) -> int | None:
    if not a or not b:
        return None
    if a == b:
        return 2
    if a.partition("@")[0] == b.partition("@")[0] or DamerauLevenshtein.distance(a, b) <= 1:
        return 1
    return 0


def phone_level(a: Record, b: Record, address: int | None) -> int | None:
    if not a.phone or not b.phone:
        return None
    if a.phone == b.phone:
        return 3 if address is not None and address >= 2 else 2
    return 1 if DamerauLevenshtein.distance(a.phone, b.phone) <= 1 else 0


def birthday_level(a: str, b: str) -> int | None:
    if not a or not b:
        return None
    if a == b:
        return 3
    if (a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6]) or (
        DamerauLevenshtein.distance(a, b) <= 1
    ):
        return 2
    return 1 if a[:4] == b[:4] else 0


def _numbers(street: str) -> list[str]:
    return re.findall(r"\d+", street)


def address_level(a: Record, b: Record) -> int | None:
    if (
        a.street
        and b.street
        and _numbers(a.street) == _numbers(b.street)
        and fuzz.token_sort_ratio(a.street, b.street) >= 85
    ):
        return 3
    postcode = a.postal_code == b.postal_code if a.postal_code and b.postal_code else None
    city = a.city == b.city if a.city and b.city else None
    if postcode and city:
        return 2
    if postcode or city:
        return 1
    if postcode is None and city is None and not (a.street and b.street):
        return None
    return 0


def compare(a: Record, b: Record) -> tuple[int | None, ...]:
    """Levels in ``COMPARED`` order."""
    first, last = names(a, b)
    address = address_level(a, b)
    return (
        first,
        last,
        email_level(a.email, b.email),
        phone_level(a, b, address),
        birthday_level(a.birthday, b.birthday),
        address,
    )
