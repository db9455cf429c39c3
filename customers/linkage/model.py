"""The Fellegi-Sunter model: m/u per comparison level, estimated from the data.

For each compared field ``f`` and level ``l``, ``m[f][l]`` is the chance a
true pair (same person) compares at that level and ``u[f][l]`` the chance
a pair of two different people does; ``share`` is the share of true pairs
among the candidate pairs. With one kind of different people a pair's
evidence would be the sum of ``log2(m/u)`` over its non-missing fields
(missing adds nothing) plus the prior ``log2(share / (1 - share))``; its
score is the posterior probability ``1 / (1 + 2^-evidence)``. Because both ``m``/``u`` and the
share are estimated on the candidate pairs themselves (the population that
gets scored), the score is a probability, not an arbitrary scale.

Three kinds of different people meet among the candidate pairs: strangers
a loose blocking key brought together, relatives (one last name, often one
address or landline) and namesakes (one full name, nothing else). A
look-alike's agreements go together, which one "different people" class
with independent fields cannot express: it multiplied them as if
independent and overstated the evidence (at 10,000 people, pairs scored
0.5-0.9 were the same person only 38-74 % of the time). So the model has
four latent classes: the match class ``m`` and three non-match components
``others`` with their shares; a pair's evidence is
``log2(share * P(pattern | m) / ((1 - share) * P(pattern | others)))``. The
per-field weights a steward reads are ``log2(m/u)`` with ``u`` the
non-match marginal; ``together`` is what the fields' going together adds
(negative when a pattern is what relatives or namesakes typically show).

Estimation is expectation-maximisation over the comparison patterns of all
candidate pairs (as the recordlinkage toolkit's ECM and Splink's EM
training do), with ``DEFAULT_M``/``DEFAULT_U`` as Dirichlet priors, so a handful of
profiles gives sensible weights and a large base is ruled by its own data.

In the weights a steward reads, no level weighs more than the exact level
(on a base where every candidate pair is close on everything, e.g. one
family of generated names, EM can find "close" commoner among matches).

Term frequencies: an exact agreement on a common first or last name is
weaker evidence than on a rare one; ``u`` of the exact level is scaled by
how frequent the value is relative to the average exact agreement (as
Splink's term-frequency adjustment does), bounded to 1/20..20 times, and
weighted by ``TF_WEIGHT`` (Splink's ``tf_adjustment_weight``): the
namesake component already counts part of what a common name explains.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from customers.linkage.comparisons import COMPARED, LEVELS
from customers.linkage.records import Record

DEFAULT_M: dict[str, tuple[float, ...]] = {
    "first_name": (0.03, 0.05, 0.05, 0.07, 0.80),
    "last_name": (0.03, 0.05, 0.05, 0.07, 0.80),
    "email": (0.45, 0.10, 0.45),
    "phone": (0.40, 0.05, 0.45, 0.10),
    "birthday": (0.02, 0.02, 0.06, 0.90),
    "address": (0.30, 0.05, 0.05, 0.60),
}
DEFAULT_U: dict[str, tuple[float, ...]] = {
    "first_name": (0.60, 0.02, 0.13, 0.10, 0.15),
    "last_name": (0.50, 0.02, 0.13, 0.10, 0.25),
    "email": (0.98, 0.015, 0.005),
    "phone": (0.97, 0.01, 0.01, 0.01),
    "birthday": (0.80, 0.15, 0.02, 0.03),
    "address": (0.80, 0.10, 0.04, 0.06),
}
# Relatives: one last name, often one address or landline, their own
# first names, emails and birthdays.
DEFAULT_RELATIVE: dict[str, tuple[float, ...]] = {
    "first_name": (0.80, 0.03, 0.05, 0.04, 0.08),
    "last_name": (0.05, 0.02, 0.03, 0.05, 0.85),
    "email": (0.97, 0.02, 0.01),
    "phone": (0.60, 0.02, 0.08, 0.30),
    "birthday": (0.85, 0.10, 0.02, 0.03),
    "address": (0.20, 0.10, 0.10, 0.60),
}
# Namesakes: one full name, nothing else in common.
DEFAULT_NAMESAKE: dict[str, tuple[float, ...]] = {
    "first_name": (0.05, 0.02, 0.05, 0.08, 0.80),
    "last_name": (0.05, 0.02, 0.05, 0.08, 0.80),
    "email": (0.97, 0.02, 0.01),
    "phone": (0.95, 0.02, 0.02, 0.01),
    "birthday": (0.85, 0.10, 0.02, 0.03),
    "address": (0.85, 0.10, 0.03, 0.02),
}
# the non-match components (strangers, relatives, namesakes) and their
# starting shares among non-matches
DEFAULT_OTHERS = (DEFAULT_U, DEFAULT_RELATIVE, DEFAULT_NAMESAKE)
DEFAULT_OTHER_SHARES = (0.75, 0.125, 0.125)
DEFAULT_SHARE = 0.3
# Blocking keys are loose on purpose: true pairs are a minority of the
# candidates. Capping their share keeps EM from the degenerate answer
# "every candidate is a match" on a base where all candidates look alike.
MAX_SHARE = 0.5
# Dirichlet prior strength, in pairs: m (how often a true pair's values
# differ: data-entry error rates, much the same everywhere) is anchored
# firmly, so that a base with few or no true pairs among its candidates
# (all namesakes) cannot pass off agreement as a match; u (how often two
# different people agree) belongs to the population and is learned freely.
PRIOR_M_PAIRS = 200.0
PRIOR_U_PAIRS = 20.0
# The latent "match" class of EM can drift to "same household" (relatives
# share a last name, an address and a landline: many pairs, all alike),
# where a first name or birthday that differs is common. A person's own
# copies rarely disagree on those (a typo makes them close, not different),
# so m of "different" is bounded there; u stays free.
MAX_M_DIFFERENT = {"first_name": 0.05, "last_name": 0.1, "birthday": 0.01}
# The strongest level of each field: no level is stronger evidence than it
# (the phone's "exact, shared address" is a weaker kind of exact).
STRONGEST = {name: len(levels) - 1 for name, levels in LEVELS.items()}
STRONGEST["phone"] = LEVELS["phone"].index("exact")
# A phone shared by two profiles at the same address is what relatives on
# one landline look like as much as one person twice: the address already
# counts, so the phone adds at most this much to it.
SHARED_PHONE_MAX_BITS = 1.0
ITERATIONS = 300
TOLERANCE = 1e-5
TF_FIELDS = {"first_name": "first", "last_name": "last"}
TF_BOUND = 20.0
# Measured on the heavy preset (benchmarks/RESULTS.md, "Wave 6"): at full
# weight the namesake component and the name frequency count a common
# name twice (scores of 0.2-0.9 overconfident by up to 0.16), at none a
# rare shared name is not told from a common one (0.1-0.9 underconfident
# by up to 0.2); 0.6 keeps every band within 0.05 there.
TF_WEIGHT = 0.6
_FLOOR = 1e-6
_BASE = 6  # pattern code digit: level + 1, 0 = missing


def encode(levels: Iterable[int | None]) -> int:
    code = 0
    for level in levels:
        code = code * _BASE + (0 if level is None else level + 1)
    return code


def decode(code: int) -> tuple[int | None, ...]:
    digits = []
    for _ in COMPARED:
        code, digit = divmod(code, _BASE)
        digits.append(None if digit == 0 else digit - 1)
    return tuple(reversed(digits))


@dataclass
class Model:
    m: dict[str, list[float]]
    u: dict[str, list[float]]  # the non-match marginal, for explanations
    share: float
    others: list[dict[str, list[float]]] = field(default_factory=list)
    other_shares: list[float] = field(default_factory=list)
    frequencies: dict[str, Counter] = field(default_factory=dict)
    tf_mean: dict[str, float] = field(default_factory=dict)
    tf_total: dict[str, int] = field(default_factory=dict)
    table: dict[str, list[float]] = field(default_factory=dict)
    iterations: int = 0

    @property
    def prior_bits(self) -> float:
        return math.log2(self.share / (1 - self.share))

    def tf_adjustment(self, name: str, value: str) -> float:
        """Bits an exact agreement on ``value`` gains (rare) or loses (common)."""
        counts = self.frequencies.get(name)
        if not counts or not value:
            return 0.0
        ratio = (counts.get(value, 1) / self.tf_total[name]) / self.tf_mean[name]
        return -TF_WEIGHT * math.log2(min(max(ratio, 1 / TF_BOUND), TF_BOUND))

    def tf_bits(self, name: str, value: str) -> float:
        """Weight of an exact agreement on ``value``, term-frequency adjusted."""
        return self.table[name][-1] + self.tf_adjustment(name, value)

    def pattern_bits(self, levels: tuple[int | None, ...]) -> float:
        """Log-odds of a match for a comparison pattern, before name frequencies."""
        match = self.share
        others = [share * (1 - self.share) for share in self.other_shares]
        for name, level in zip(COMPARED, levels, strict=True):
            if level is None:
                continue
            match *= self.m[name][level]
            others = [p * other[name][level] for p, other in zip(others, self.others, strict=True)]
        return math.log2(max(match, 1e-300)) - math.log2(max(sum(others), 1e-300))

    def _tf_total(self, levels: tuple[int | None, ...], a: Record) -> float:
        return sum(
            self.tf_adjustment(name, getattr(a, attribute))
            for name, attribute in TF_FIELDS.items()
            if levels[COMPARED.index(name)] == len(LEVELS[name]) - 1
        )

    def log_odds(self, levels: tuple[int | None, ...], a: Record) -> float:
        return self.pattern_bits(levels) + self._tf_total(levels, a)

    def evidence(self, levels: tuple[int | None, ...], a: Record) -> list[float | None]:
        """Per field weight in bits (None when missing), in ``COMPARED`` order."""
        weights: list[float | None] = []
        for name, level in zip(COMPARED, levels, strict=True):
            if level is None:
                weights.append(None)
            elif name in TF_FIELDS and level == len(LEVELS[name]) - 1:
                weights.append(self.tf_bits(name, getattr(a, TF_FIELDS[name])))
            else:
                weights.append(self.table[name][level])
        return weights

    def score(self, levels: tuple[int | None, ...], a: Record) -> float:
        return 1.0 / (1.0 + 2.0 ** max(-self.log_odds(levels, a), -60.0))

    def explain(self, levels: tuple[int | None, ...], a: Record) -> dict:
        """What a steward reads: per field, the level reached and its weight;
        ``together``: what the fields' going together adds, so that prior,
        weights and ``together`` sum to the pair's evidence."""
        fields, total = {}, self.prior_bits
        for name, level, weight in zip(COMPARED, levels, self.evidence(levels, a), strict=True):
            fields[name] = {
                "level": "missing" if level is None else LEVELS[name][level],
                "weight": 0.0 if weight is None else round(weight, 2),
            }
            total += weight or 0.0
        together = round(self.log_odds(levels, a) - total, 2)
        return {"prior": round(self.prior_bits, 2), "together": together, "fields": fields}

    def name_frequency_bits(self, records: Sequence[Record]) -> dict[str, np.ndarray]:
        """Per record, what an exact agreement on its first and on its last
        name gains or loses by the name's frequency (``tf_adjustment``), for
        scoring many pairs at once."""
        bits = {}
        for name, attribute in TF_FIELDS.items():
            known: dict[str, float] = {}
            values = np.empty(len(records), dtype=np.float64)
            for index, record in enumerate(records):
                value = getattr(record, attribute)
                found = known.get(value)
                if found is None:
                    found = known[value] = self.tf_adjustment(name, value)
                values[index] = found
            bits[name] = values
        return bits

    def score_codes(
        self, codes: np.ndarray, left: np.ndarray, name_bits: dict[str, np.ndarray]
    ) -> np.ndarray:
        """``score`` of many pairs: their pattern codes and the index of
        their first record (whose names' frequencies count, as in ``score``)."""
        patterns, inverse = np.unique(codes, return_inverse=True)
        base = np.empty(len(patterns), dtype=np.float64)
        exact = {name: np.zeros(len(patterns), dtype=bool) for name in TF_FIELDS}
        for k, code in enumerate(patterns.tolist()):
            levels = decode(code)
            base[k] = self.pattern_bits(levels)
            for name in TF_FIELDS:
                exact[name][k] = levels[COMPARED.index(name)] == len(LEVELS[name]) - 1
        total = base[inverse]
        for name, bits in name_bits.items():
            chosen = exact[name][inverse]
            total[chosen] += bits[left[chosen]]
        return 1.0 / (1.0 + np.exp2(np.maximum(-total, -60.0)))

    def finish(self, records: Iterable[Record]) -> Model:
        """Weight tables and name frequencies, once the parameters are final."""
        total = sum(self.other_shares)
        self.u = {
            name: [
                sum(
                    share * other[name][level]
                    for share, other in zip(self.other_shares, self.others, strict=True)
                )
                / total
                for level in range(len(LEVELS[name]))
            ]
            for name in COMPARED
        }
        self.table = {}
        for name in COMPARED:
            bits = [math.log2(m / u) for m, u in zip(self.m[name], self.u[name], strict=True)]
            # no level is stronger evidence than an exact agreement
            bits = [min(value, bits[STRONGEST[name]]) for value in bits]
            if name == "phone":
                shared = LEVELS["phone"].index("exact, shared address")
                bits[shared] = min(bits[shared], SHARED_PHONE_MAX_BITS)
            self.table[name] = bits
        self.frequencies = {name: Counter() for name in TF_FIELDS}
        for record in records:
            for name, attribute in TF_FIELDS.items():
                if value := getattr(record, attribute):
                    self.frequencies[name][value] += 1
        for name, counts in self.frequencies.items():
            total = sum(counts.values()) or 1
            squares = sum((n / total) ** 2 for n in counts.values())
            cubes = sum((n / total) ** 3 for n in counts.values())
            self.tf_total[name] = total
            self.tf_mean[name] = cubes / squares if squares else 1.0
        return self


def _bounded_first(probabilities: list[float], bound: float) -> list[float]:
    """``probabilities`` with the first at most ``bound``, the rest rescaled."""
    if probabilities[0] <= bound:
        return probabilities
    rest = sum(probabilities[1:])
    return [bound] + [value * (1 - bound) / rest for value in probabilities[1:]]


def default_model() -> Model:
    return Model(
        m={name: list(values) for name, values in DEFAULT_M.items()},
        u={name: list(values) for name, values in DEFAULT_U.items()},
        share=DEFAULT_SHARE,
        others=[{name: list(v) for name, v in other.items()} for other in DEFAULT_OTHERS],
        other_shares=list(DEFAULT_OTHER_SHARES),
    )


def estimate(codes: np.ndarray | list[int]) -> Model:
    """m, the non-match components and the shares by EM over the pairs'
    comparison patterns (the default model when there are none)."""
    unique, counts = np.unique(np.asarray(codes, dtype=np.int64), return_counts=True)
    if not len(unique):
        return default_model()
    # one row per distinct pattern, one column per field: its level, -1 missing
    levels = np.array(
        [[-1 if level is None else level for level in decode(code)] for code in unique.tolist()],
        dtype=np.int64,
    ).reshape(-1, len(COMPARED))
    present = levels >= 0
    counts = counts.astype(np.float64)
    model = default_model()
    # class 0 the match class, then the non-match components
    classes = [model.m, *model.others]
    priors = [DEFAULT_M, *DEFAULT_OTHERS]
    strengths = [PRIOR_M_PAIRS] + [PRIOR_U_PAIRS] * len(model.others)
    shares = np.array(
        [model.share, *(s * (1 - model.share) for s in model.other_shares)], dtype=np.float64
    )
    for iteration in range(ITERATIONS):
        likelihood = np.tile(shares, (len(levels), 1))
        for column, name in enumerate(COMPARED):
            rows, level = present[:, column], levels[:, column]
            for k, probabilities in enumerate(classes):
                likelihood[rows, k] *= np.asarray(probabilities[name])[level[rows]]
        weight = counts[:, None] * likelihood / np.maximum(likelihood.sum(1, keepdims=True), 1e-300)
        new_shares = weight.sum(0) / max(float(counts.sum()), 1.0)
        new_shares[0] = min(max(new_shares[0], 1e-4), MAX_SHARE)
        new_shares /= new_shares.sum()
        change = float(np.abs(new_shares - shares).max())
        shares = new_shares
        for k, probabilities in enumerate(classes):
            for column, name in enumerate(COMPARED):
                rows = present[:, column]
                sums = np.bincount(levels[rows, column], weight[rows, k], len(LEVELS[name]))
                seen = float(sums.sum()) + strengths[k]
                new = [
                    max((value + strengths[k] * priors[k][name][level]) / seen, _FLOOR)
                    for level, value in enumerate(sums.tolist())
                ]
                if k == 0 and name in MAX_M_DIFFERENT:
                    new = _bounded_first(new, MAX_M_DIFFERENT[name])
                for level, value in enumerate(new):
                    change = max(change, abs(value - probabilities[name][level]))
                    probabilities[name][level] = value
        model.iterations = iteration + 1
        if change < TOLERANCE:
            break
    model.share = float(shares[0])
    model.other_shares = (shares[1:] / shares[1:].sum()).tolist()
    return model
