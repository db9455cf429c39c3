"""Blocking: which pairs of records are worth comparing at all.

Several independent keys, so that corruption of any single field (a typo,
a missing value, a move, swapped names) leaves at least one key shared:

- each name's phonetic code (Soundex) with the other name's initial, so
  swapped names, an initial for a first name and a typo in either name
  still share one;
- each name's phonetic code with the birth year;
- the full birthday with each name's initial;
- the email mailbox name (the part before ``@``), and its letters alone
  (``anna.berg84`` and ``annaberg1990`` share ``annaberg``);
- a record with one name only (the other missing, or refused by cleansing)
  with every record holding that name or one letter off it;
- the last 8 phone digits;
- the postcode with each name's phonetic code, and with each initial;
- the street line (folded, as written) with each name's initial;
- each name and every variant of it with one letter deleted, with the
  other name's initial (a deletion neighbourhood, as in SymSpell): two
  spellings one typo, one OCR slip or one transposition apart share a
  variant, whatever the phonetic code makes of them;
- a sorted neighbourhood over the name key (name tokens, sorted, folded):
  each record is paired with the next ``WINDOW - 1`` in that order.

A key held by more than ``MAX_BLOCK`` records says too little (a common
name, a shared office phone) and is skipped; the other keys still apply.

Keys are 64-bit hashes grouped by sorting (numpy), not a dictionary of
strings: at a million profiles there are some twenty million keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import jellyfish
import numpy as np

from customers.linkage.records import Record

MAX_BLOCK = 50
WINDOW = 4
CHUNK = 50_000  # records whose keys are hashed before they go into an array
STEP = 1_000_000  # pair codes handled at once (bounds the temporary arrays)
MIN_DELETION_LENGTH = 4  # shorter names: too many unrelated one-letter variants


def _code(name: str) -> str:
    return jellyfish.soundex(name) if len(name) > 1 else ""


def _deletions(name: str) -> set[str]:
    compact = name.replace(" ", "")
    if len(compact) < MIN_DELETION_LENGTH:
        return {compact} if len(compact) > 1 else set()
    return {compact} | {compact[:i] + compact[i + 1 :] for i in range(len(compact))}


def keys(record: Record) -> Iterator[str]:
    first, last = _code(record.first), _code(record.last)
    year, birthday = record.birthday[:4], record.birthday
    codes = {first, last} - {""}
    initials = {record.first[:1], record.last[:1]} - {""}
    if record.first and record.last:
        if first:
            yield f"n:{first}:{record.last[0]}"
        if last:
            yield f"n:{last}:{record.first[0]}"
        for name, other in ((record.first, record.last), (record.last, record.first)):
            for variant in _deletions(name):
                yield f"d:{variant}:{other[0]}"
    for code in codes:
        if year:
            yield f"y:{code}:{year}"
        if record.postal_code:
            yield f"z:{record.postal_code}:{code}"
    for initial in initials:
        if birthday:
            yield f"b:{birthday}:{initial}"
        if record.postal_code:
            yield f"zi:{record.postal_code}:{initial}"
        if record.street:
            yield f"s:{record.street}:{initial}"
    if record.email:
        mailbox = record.email.partition("@")[0]
        yield "e:" + mailbox
        letters = "".join(ch for ch in mailbox if ch.isalpha())
        if len(letters) >= 4:
            yield "m:" + letters
    if len(record.phone) >= 7:
        yield "p:" + record.phone[-8:]


def name_key(record: Record) -> str:
    return " ".join(sorted(f"{record.first} {record.last}".split()))


def _hashed_keys(records: Sequence[Record], start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """The keys of records ``start:stop`` as hashes, and the record each is of."""
    hashes: list[int] = []
    owners: list[int] = []
    for index in range(start, stop):
        found = {hash(key) for key in keys(records[index])}
        hashes.extend(found)
        owners.extend([index] * len(found))
    return np.array(hashes, dtype=np.int64), np.array(owners, dtype=np.int32)


def _block_pairs(records: Sequence[Record], also: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Pairs sharing a key, encoded ``i * n + j`` (i < j), with repeats, then
    the pairs of ``also``: one array, allocated once at its final size and
    filled block size by block size (at a million records it holds some sixty
    million codes; a list of pieces joined afterwards would need it twice)."""
    key_chunks, owner_chunks = [], []
    for start in range(0, len(records), CHUNK):
        hashes, owners = _hashed_keys(records, start, min(start + CHUNK, len(records)))
        key_chunks.append(hashes)
        owner_chunks.append(owners)
    key, owner = np.concatenate(key_chunks), np.concatenate(owner_chunks).astype(np.int64)
    del key_chunks, owner_chunks
    order = np.argsort(key, kind="stable")
    key, owner = key[order], owner[order]
    del order
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[starts, len(key)])
    del key
    n = len(records)
    blocks = {size: starts[sizes == size] for size in range(2, MAX_BLOCK + 1)}
    total = sum(len(chosen) * size * (size - 1) // 2 for size, chosen in blocks.items())
    codes = np.empty(total + sum(len(extra) for extra in also), dtype=np.int64)
    filled = 0
    for size, chosen in blocks.items():
        a, b = np.triu_indices(size, k=1)
        step = max(1, STEP // len(a))  # blocks at once: bounds the temporaries
        for first in range(0, len(chosen), step):
            part = chosen[first : first + step]
            members = owner[part[:, None] + np.arange(size)]
            members.sort(axis=1)
            block = codes[filled : filled + len(part) * len(a)].reshape(len(part), len(a))
            np.multiply(members[:, a], n, out=block)
            block += members[:, b]
            filled += block.size
    for extra in also:
        codes[filled : filled + len(extra)] = extra
        filled += len(extra)
    return codes


def _single_name_pairs(records: Sequence[Record]) -> np.ndarray:
    """A record with one name only, with every record holding that name or
    one letter off it (a common name: at most ``MAX_BLOCK`` of them)."""
    single: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        if bool(record.first) != bool(record.last):
            for variant in _deletions(record.first or record.last):
                single.setdefault(variant, []).append(index)
    if not single:
        return np.empty(0, dtype=np.int64)
    found: dict[int, set[int]] = {}
    for index, record in enumerate(records):
        for name in (record.first, record.last):
            for variant in _deletions(name) if name else ():
                for other in single.get(variant, ()):
                    if other != index:
                        found.setdefault(other, set()).add(index)
    n = len(records)
    codes = [
        min(a, b) * n + max(a, b)
        for a, others in found.items()
        if len(others) <= MAX_BLOCK
        for b in others
    ]
    return np.array(codes, dtype=np.int64)


def _neighbourhood_pairs(records: Sequence[Record]) -> np.ndarray:
    order = [index for _, index in sorted((name_key(r), i) for i, r in enumerate(records))]
    order = np.array([i for i in order if records[i].first or records[i].last], dtype=np.int64)
    n = len(records)
    chunks = []
    for step in range(1, WINDOW):
        a, b = order[:-step], order[step:]
        chunks.append(np.minimum(a, b) * n + np.maximum(a, b))
    return np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int64)


def candidate_arrays(records: Sequence[Record]) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs as two ``int32`` index arrays (``left < right``), each
    pair once, in order. The pairs of all keys are deduplicated in the one
    array that holds them, sorted in place (``np.unique`` would sort a copy)."""
    n = len(records)
    if n < 2:
        empty = np.empty(0, dtype=np.int32)
        return empty, empty
    codes = _block_pairs(records, also=(_single_name_pairs(records), _neighbourhood_pairs(records)))
    codes = _unique_in_place(codes)
    left = np.empty(len(codes), dtype=np.int32)
    right = np.empty(len(codes), dtype=np.int32)
    for start in range(0, len(codes), STEP):
        part = codes[start : start + STEP]
        left[start : start + len(part)], right[start : start + len(part)] = np.divmod(part, n)
    return left, right


def _unique_in_place(codes: np.ndarray) -> np.ndarray:
    """``codes`` sorted, each value once, in the same buffer (shrunk to fit):
    no copy of the pairs with repeats exists beside them."""
    if not len(codes):
        return codes
    codes.sort()
    kept, last = 0, None
    for start in range(0, len(codes), STEP):
        part = codes[start : start + STEP]
        new = np.empty(len(part), dtype=bool)
        np.not_equal(part[1:], part[:-1], out=new[1:])
        new[0] = last is None or part[0] != last
        last = part[-1]
        chosen = part[new]  # a copy: written back below where ``part`` was read from
        codes[kept : kept + len(chosen)] = chosen
        kept += len(chosen)
    del part, new, chosen
    codes.resize(kept, refcheck=False)
    return codes


def candidate_pairs(records: Sequence[Record]) -> set[tuple[int, int]]:
    """Index pairs (i < j into ``records``) worth comparing."""
    left, right = candidate_arrays(records)
    return set(zip(left.tolist(), right.tolist(), strict=True))
