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
_NUMBERS = re.compile(r"\d+")  # house numbers in a street line


def _factorize(*columns: list[str]) -> tuple[list[np.ndarray], np.ndarray]:
    """Integer ids for the values of one or more columns, over one shared
    vocabulary (id 0 is the empty string), and the vocabulary's texts."""
    vocabulary = dict.fromkeys(["", *(value for column in columns for value in column)])
    ids = {value: index for index, value in enumerate(vocabulary)}
    texts = np.empty(len(ids), dtype=object)
    texts[:] = list(ids)
    return [
        np.fromiter(map(ids.__getitem__, column), dtype=np.int32, count=len(column))
        for column in columns
    ], texts


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
        (first, last), name_text = _factorize([r.first for r in records], [r.last for r in records])
        (email,), email_text = _factorize([r.email for r in records])
        (mailbox,), _ = _factorize([r.email.partition("@")[0] for r in records])
        (phone,), phone_text = _factorize([r.phone for r in records])
        (street,), street_text = _factorize([r.street for r in records])
        numbers = ["|".join(_NUMBERS.findall(r.street)) if r.street else "" for r in records]
        (street_numbers,), _ = _factorize(numbers)
        (postal_code,), _ = _factorize([r.postal_code for r in records])
        (city,), _ = _factorize([r.city for r in records])
        birthday = np.array([int(r.birthday or 0) for r in records], dtype=np.int64)
        year, month, day = (birthday // 10000) * 10000, (birthday // 100) % 100, birthday % 100
        return cls(
            first=first,
            last=last,
            name_text=name_text,
            name_length=np.array([len(t) for t in name_text], dtype=np.int32),
            name_head=np.array([ord(t[0]) if t else 0 for t in name_text], dtype=np.int32),
            email=email,
            email_text=email_text,
            mailbox=mailbox,
            phone=phone,
            phone_text=phone_text,
            birthday=birthday,
            birthday_swapped=year + day * 100 + month,
            street=street,
            street_text=street_text,
            street_numbers=street_numbers,
            postal_code=postal_code,
            city=city,
        )


def _one_edit(texts_a: np.ndarray, texts_b: np.ndarray) -> np.ndarray:
    """Whether each pair is at most one edit apart (Damerau-Levenshtein);
    the cut-off lets rapidfuzz stop counting at two."""
    distance = cpdist(
        texts_a, texts_b, scorer=DamerauLevenshtein.distance, score_cutoff=1, dtype=np.int32
    )
    return distance <= 1


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
        length_a, length_b = c.name_length[ra], c.name_length[rb]
        close = similarity >= 0.92
        check = np.flatnonzero(~close & (np.minimum(length_a, length_b) >= 3))
        close[check] = _one_edit(texts_a[check], texts_b[check])
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
        one_edit = _one_edit(c.email_text[a[rest]], c.email_text[b[rest]])
        level[rest[same_mailbox | one_edit]] = 1
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
        swapped = c.birthday_swapped[left[rest]] == b[rest]
        level[rest[swapped | _one_digit_apart(a[rest], b[rest])]] = 2
    return level


def _one_digit_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether two different 8-digit dates (YYYYMMDD) are one edit apart:
    of equal length, that is one digit replaced or two adjacent digits
    transposed (an insertion and a deletion are two edits)."""
    powers = 10 ** np.arange(8, dtype=np.int64)[:, None]
    digits_a, digits_b = (a // powers) % 10, (b // powers) % 10
    differ = digits_a != digits_b
    count = differ.sum(axis=0)
    transposed = (
        differ[:-1] & differ[1:] & (digits_a[:-1] == digits_b[1:]) & (digits_a[1:] == digits_b[:-1])
    ).any(axis=0)
    return (count == 1) | ((count == 2) & transposed)


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
        level[rest[_one_edit(c.phone_text[a[rest]], c.phone_text[b[rest]])]] = 1
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
