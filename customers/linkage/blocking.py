"""Blocking: which pairs of records are worth comparing at all.

Several independent keys, so that corruption of any single field (a typo,
a missing value, a move, swapped names) leaves at least one key shared:

- each name's phonetic code (Soundex) with the other name's initial, so
  swapped names, an initial for a first name and a typo in either name
  still share one;
- each name's phonetic code with the birth year;
- the full birthday with each name's initial;
- the email mailbox name (the part before ``@``);
- the last 8 phone digits;
- the postcode with each name's phonetic code;
- a sorted neighbourhood over the name key (name tokens, sorted, folded):
  each record is paired with the next ``WINDOW - 1`` in that order, which
  catches typos late in a name that change no phonetic code.

A key held by more than ``MAX_BLOCK`` records says too little (a common
name, a shared office phone) and is skipped; the other keys still apply.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import jellyfish

from customers.linkage.records import Record

MAX_BLOCK = 50
WINDOW = 4


def _code(name: str) -> str:
    return jellyfish.soundex(name) if len(name) > 1 else ""


def keys(record: Record) -> Iterator[str]:
    first, last = _code(record.first), _code(record.last)
    year, birthday = record.birthday[:4], record.birthday
    codes = {first, last} - {""}
    if record.first and record.last:
        if first:
            yield f"n:{first}:{record.last[0]}"
        if last:
            yield f"n:{last}:{record.first[0]}"
    for code in codes:
        if year:
            yield f"y:{code}:{year}"
        if record.postal_code:
            yield f"z:{record.postal_code}:{code}"
    if birthday:
        for initial in {record.first[:1], record.last[:1]} - {""}:
            yield f"b:{birthday}:{initial}"
    if record.email:
        yield "e:" + record.email.partition("@")[0]
    if len(record.phone) >= 7:
        yield "p:" + record.phone[-8:]


def name_key(record: Record) -> str:
    return " ".join(sorted(f"{record.first} {record.last}".split()))


def candidate_pairs(records: Sequence[Record]) -> set[tuple[int, int]]:
    """Index pairs (i < j into ``records``) worth comparing."""
    blocks: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        for key in set(keys(record)):
            blocks.setdefault(key, []).append(index)
    pairs: set[tuple[int, int]] = set()
    for members in blocks.values():
        if 1 < len(members) <= MAX_BLOCK:
            pairs.update((a, b) for n, a in enumerate(members) for b in members[n + 1 :])
    del blocks
    order = sorted(
        (key, index) for index, record in enumerate(records) if (key := name_key(record))
    )
    for n in range(len(order)):
        i = order[n][1]
        for m in range(n + 1, min(n + WINDOW, len(order))):
            j = order[m][1]
            pairs.add((i, j) if i < j else (j, i))
    return pairs
