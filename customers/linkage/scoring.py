"""Block, compare, estimate, score: the candidate pairs of a set of records.

Column-wise: the candidate pairs are arrays of record indexes, their
comparison patterns and scores arrays of the same length
(``columns.compare_pairs``, ``Model.score_codes``). An explanation is
built only for a pair that is asked about (``Scored.explain``): it is a
function of the pair's pattern code and its first record.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from customers.linkage.blocking import candidate_arrays
from customers.linkage.columns import Columns, compare_pairs, encode_levels
from customers.linkage.comparisons import compare
from customers.linkage.model import Model, decode, default_model, estimate
from customers.linkage.records import Record

CHUNK = 250_000  # pairs compared at once (bounds the temporary columns)


@dataclass
class Scored:
    """Candidate pairs (indexes into ``records``), their comparison pattern
    codes and scores, as parallel arrays."""

    records: Sequence[Record]
    left: np.ndarray
    right: np.ndarray
    codes: np.ndarray
    values: np.ndarray
    model: Model
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per stage

    def __len__(self) -> int:
        return len(self.codes)

    def scores(self) -> Iterator[tuple[float, int, int, int]]:
        """(score, index a, index b, pattern code) for every candidate pair."""
        return zip(
            self.values.tolist(),
            self.left.tolist(),
            self.right.tolist(),
            self.codes.tolist(),
            strict=True,
        )

    def release_pairs(self) -> None:
        """Drop the per-pair arrays (the records and the model stay, for
        explanations and one-pair scores)."""
        self.left = self.right = np.empty(0, dtype=np.int32)
        self.codes = np.empty(0, dtype=np.int32)
        self.values = np.empty(0, dtype=np.float64)

    def explain(self, i: int, code: int) -> dict:
        return self.model.explain(decode(code), self.records[i])


def score_records(records: Sequence[Record]) -> Scored:
    cpu, clock = {}, time.process_time()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.process_time()
        cpu[stage], clock = now - clock, now

    left, right = candidate_arrays(records)
    lap("blocking")
    columns = Columns.build(records)
    codes = np.empty(len(left), dtype=np.int32)
    for start in range(0, len(left), CHUNK):
        chunk = slice(start, start + CHUNK)
        codes[chunk] = encode_levels(compare_pairs(columns, left[chunk], right[chunk]))
    del columns
    lap("comparing")
    model = estimate(codes).finish(records)
    lap("estimating")
    values = model.score_codes(codes, left, model.name_frequency_bits(records))
    lap("scoring")
    return Scored(
        records=records, left=left, right=right, codes=codes, values=values, model=model, cpu=cpu
    )


def score_pair(a: Record, b: Record, model: Model | None = None) -> tuple[float, dict]:
    """One pair's score and explanation (the default model unless one is given)."""
    model = model or default_model().finish([a, b])
    levels = compare(a, b)
    return model.score(levels, a), model.explain(levels, a)
