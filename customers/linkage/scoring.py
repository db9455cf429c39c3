"""Block, compare, estimate, score: the candidate pairs of a set of records."""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from customers.linkage.blocking import candidate_arrays
from customers.linkage.comparisons import compare
from customers.linkage.model import Model, decode, default_model, encode, estimate
from customers.linkage.records import Record


@dataclass
class Scored:
    """Candidate pairs (indexes into ``records``) with their comparison patterns."""

    records: Sequence[Record]
    left: array
    right: array
    codes: array
    model: Model

    def __len__(self) -> int:
        return len(self.codes)

    def scores(self) -> Iterator[tuple[float, int, int, int]]:
        """(score, index a, index b, pattern code) for every candidate pair."""
        records, model = self.records, self.model
        cache: dict[int, tuple[int | None, ...]] = {}
        for i, j, code in zip(self.left, self.right, self.codes, strict=True):
            levels = cache.get(code)
            if levels is None:
                levels = cache[code] = decode(code)
            yield model.score(levels, records[i]), i, j, code

    def explain(self, i: int, code: int) -> dict:
        return self.model.explain(decode(code), self.records[i])


def score_records(records: Sequence[Record]) -> Scored:
    pairs_left, pairs_right = candidate_arrays(records)
    left, right = array("i", pairs_left.tolist()), array("i", pairs_right.tolist())
    del pairs_left, pairs_right
    codes = array(
        "i", (encode(compare(records[i], records[j])) for i, j in zip(left, right, strict=True))
    )
    model = estimate(codes).finish(records)
    return Scored(records=records, left=left, right=right, codes=codes, model=model)


def score_pair(a: Record, b: Record, model: Model | None = None) -> tuple[float, dict]:
    """One pair's score and explanation (the default model unless one is given)."""
    model = model or default_model().finish([a, b])
    levels = compare(a, b)
    return model.score(levels, a), model.explain(levels, a)
