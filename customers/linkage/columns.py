"""Comparison levels of many pairs at once, field by field (column-wise).

``comparisons.compare`` says what a level means, one pair at a time, and
stays the reference: ``compare_pairs`` computes the same levels for whole
arrays of pairs, with numpy for equality and the level rules and
rapidfuzz's ``cpdist`` (one C call over a column of pairs) for the string
distances, so that the cost per pair is a few array operations, not a
dozen Python calls. A property test holds the two equal.

Every text field is turned into integer ids once (``Columns``): equal
values have equal ids and id 0 is the empty value, so "missing" and
"exact" are integer comparisons, and the string distances are computed
only for the pairs that are present on both sides and not equal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler
from rapidfuzz.process import cpdist

from customers.linkage.comparisons import COMPARED
from customers.linkage.records import Record

MISSING = -1  # the level of a field missing on either side
_BASE = 6  # pattern code digit: level + 1, 0 = missing (as ``model.encode``)


class _Vocabulary:
    """Distinct strings with integer ids; id 0 is the empty string."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {"": 0}

    def id(self, value: str) -> int:
        found = self.ids.get(value)
        if found is None:
            found = self.ids[value] = len(self.ids)
        return found

    def texts(self) -> np.ndarray:
        texts = np.empty(len(self.ids), dtype=object)
        texts[list(self.ids.values())] = list(self.ids)
        return texts


@dataclass
class Columns:
    """The records as integer columns (ids into ``*_text`` for strings)."""

    first: np.ndarray
    last: np.ndarray
    name_text: np.ndarray  # one vocabulary for both names: they are compared crosswise
    name_length: np.ndarray
    name_head: np.ndarray  # the first letter's code point
    email: np.ndarray
    email_text: np.ndarray
    mailbox: np.ndarray
    phone: np.ndarray
    phone_text: np.ndarray
    birthday: np.ndarray  # YYYYMMDD, 0 = missing
    birthday_swapped: np.ndarray  # YYYYDDMM
    street: np.ndarray
    street_text: np.ndarray
    street_numbers: np.ndarray
    postal_code: np.ndarray
    city: np.ndarray

    @classmethod
    def build(cls, records: Sequence[Record]) -> Columns:
        names, emails, mailboxes, phones = (_Vocabulary() for _ in range(4))
        streets, numbers, postcodes, cities = (_Vocabulary() for _ in range(4))
        n = len(records)
        ids = {key: np.zeros(n, dtype=np.int32) for key in _ID_COLUMNS}
        birthday = np.zeros(n, dtype=np.int64)
        swapped = np.zeros(n, dtype=np.int64)
        for index, r in enumerate(records):
            ids["first"][index] = names.id(r.first)
            ids["last"][index] = names.id(r.last)
            ids["email"][index] = emails.id(r.email)
            ids["mailbox"][index] = mailboxes.id(r.email.partition("@")[0])
            ids["phone"][index] = phones.id(r.phone)
            ids["street"][index] = streets.id(r.street)
            ids["street_numbers"][index] = numbers.id("|".join(re.findall(r"\d+", r.street)))
            ids["postal_code"][index] = postcodes.id(r.postal_code)
            ids["city"][index] = cities.id(r.city)
            if r.birthday:
                birthday[index] = int(r.birthday)
                swapped[index] = int(r.birthday[:4] + r.birthday[6:8] + r.birthday[4:6])
        name_text = names.texts()
        return cls(
            name_text=name_text,
            name_length=np.array([len(t) for t in name_text], dtype=np.int32),
            name_head=np.array([ord(t[0]) if t else 0 for t in name_text], dtype=np.int32),
            email_text=emails.texts(),
            phone_text=phones.texts(),
            street_text=streets.texts(),
            birthday=birthday,
            birthday_swapped=swapped,
            **ids,
        )


_ID_COLUMNS = (
    "first",
    "last",
    "email",
    "mailbox",
    "phone",
    "street",
    "street_numbers",
    "postal_code",
    "city",
)


def _distance(texts: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return cpdist(texts[a], texts[b], scorer=DamerauLevenshtein.distance, dtype=np.int32)


def _name_levels(c: Columns, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``comparisons.name_level`` over arrays of name ids."""
    level = np.full(len(a), MISSING, dtype=np.int8)
    present = (a != 0) & (b != 0)
    level[present & (a == b)] = 4
    rest = np.flatnonzero(present & (a != b))
    if len(rest):
        ra, rb = a[rest], b[rest]
        texts_a, texts_b = c.name_text[ra], c.name_text[rb]
        similarity = cpdist(texts_a, texts_b, scorer=JaroWinkler.similarity, dtype=np.float64)
        distance = cpdist(texts_a, texts_b, scorer=DamerauLevenshtein.distance, dtype=np.int32)
        length_a, length_b = c.name_length[ra], c.name_length[rb]
        close = (similarity >= 0.92) | ((np.minimum(length_a, length_b) >= 3) & (distance <= 1))
        initial = ((length_a == 1) | (length_b == 1)) & (c.name_head[ra] == c.name_head[rb])
        level[rest] = np.select([close, similarity >= 0.80, initial], [3, 2, 1], 0)
    return level


def _names(c: Columns, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``comparisons.names``: (first, last) levels, crosswise when that agrees more."""
    fa, fb, la, lb = c.first[left], c.first[right], c.last[left], c.last[right]
    first, last = _name_levels(c, fa, fb), _name_levels(c, la, lb)
    maybe = np.flatnonzero((fa != fb) & (la != lb))
    if len(maybe):
        cross_first = _name_levels(c, fa[maybe], lb[maybe])
        cross_last = _name_levels(c, la[maybe], fb[maybe])
        crossed = np.maximum(cross_first, 0).astype(np.int16) + np.maximum(cross_last, 0)
        direct = np.maximum(first[maybe], 0).astype(np.int16) + np.maximum(last[maybe], 0)
        swap = crossed > direct
        first[maybe[swap]] = cross_first[swap]
        last[maybe[swap]] = cross_last[swap]
    return first, last


def _email(c: Columns, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    a, b = c.email[left], c.email[right]
    level = np.full(len(a), MISSING, dtype=np.int8)
    present = (a != 0) & (b != 0)
    level[present] = 0
    level[present & (a == b)] = 2
    rest = np.flatnonzero(present & (a != b))
    if len(rest):
        same_mailbox = c.mailbox[left[rest]] == c.mailbox[right[rest]]
        level[rest[same_mailbox | (_distance(c.email_text, a[rest], b[rest]) <= 1)]] = 1
    return level


def _birthday(c: Columns, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    a, b = c.birthday[left], c.birthday[right]
    level = np.full(len(a), MISSING, dtype=np.int8)
    present = (a != 0) & (b != 0)
    level[present] = 0
    level[present & (a // 10000 == b // 10000)] = 1
    level[present & (a == b)] = 3
    rest = np.flatnonzero(present & (a != b))
    if len(rest):
        texts_a, texts_b = a[rest].astype(str), b[rest].astype(str)
        one_off = cpdist(texts_a, texts_b, scorer=DamerauLevenshtein.distance) <= 1
        swapped = c.birthday_swapped[left[rest]] == b[rest]
        level[rest[swapped | one_off]] = 2
    return level


def _address(c: Columns, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``comparisons.address_level``: street, then postcode and city."""
    sa, sb = c.street[left], c.street[right]
    streets = (sa != 0) & (sb != 0)
    pa, pb, ca, cb = c.postal_code[left], c.postal_code[right], c.city[left], c.city[right]
    postcode_known, city_known = (pa != 0) & (pb != 0), (ca != 0) & (cb != 0)
    postcode, city = postcode_known & (pa == pb), city_known & (ca == cb)
    level = np.where(postcode & city, 2, np.where(postcode | city, 1, 0)).astype(np.int8)
    level[~postcode_known & ~city_known & ~streets] = MISSING
    numbers = streets & (c.street_numbers[left] == c.street_numbers[right])
    level[numbers & (sa == sb)] = 3
    rest = np.flatnonzero(numbers & (sa != sb))
    if len(rest):
        ratio = cpdist(
            c.street_text[sa[rest]],
            c.street_text[sb[rest]],
            scorer=fuzz.token_sort_ratio,
            dtype=np.float64,
        )
        level[rest[ratio >= 85]] = 3
    return level


def _phone(c: Columns, left: np.ndarray, right: np.ndarray, address: np.ndarray) -> np.ndarray:
    a, b = c.phone[left], c.phone[right]
    level = np.full(len(a), MISSING, dtype=np.int8)
    present = (a != 0) & (b != 0)
    level[present] = 0
    same = present & (a == b)
    level[same] = np.where(address[same] >= 2, 3, 2)
    rest = np.flatnonzero(present & (a != b))
    if len(rest):
        level[rest[_distance(c.phone_text, a[rest], b[rest]) <= 1]] = 1
    return level


def compare_pairs(c: Columns, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Levels of the pairs ``(left[k], right[k])``: one int8 column per field
    in ``COMPARED`` order (shape ``(len(COMPARED), pairs)``), ``MISSING``
    where either side is missing."""
    first, last = _names(c, left, right)
    address = _address(c, left, right)
    columns = {
        "first_name": first,
        "last_name": last,
        "email": _email(c, left, right),
        "phone": _phone(c, left, right, address),
        "birthday": _birthday(c, left, right),
        "address": address,
    }
    return np.stack([columns[name] for name in COMPARED])


def encode_levels(levels: np.ndarray) -> np.ndarray:
    """Pattern codes (``model.encode`` of each column of ``levels``)."""
    codes = np.zeros(levels.shape[1], dtype=np.int32)
    for row in levels:
        codes = codes * _BASE + (row.astype(np.int32) + 1)
    return codes
