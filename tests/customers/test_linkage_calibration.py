"""Scores are probabilities on heavily corrupted copies (issue 22).

The ``heavy`` preset of ``benchmarks/corruption.py`` (copies with typos, OCR
errors, nicknames, swapped fields, moved addresses, plus relatives and
namesakes), scored by the engine in memory as ``benchmarks/linkage_engine.py``
does. With one kind of "different people" the model overstated look-alikes'
evidence: pairs scored 0.6-0.7 were the same person 42 % of the time.
"""

from dataclasses import replace

import numpy as np
import pytest

from benchmarks.corruption import generator
from customers.linkage.comparisons import compare
from customers.linkage.records import Record
from customers.linkage.scoring import score_records
from customers.services.normalize import cleanse_core

MIN_PAIRS = 200  # the rule: bands with at least this many pairs


@pytest.fixture(scope="module")
def heavy():
    rows = generator(seed=7, max_copies=5).generate(10_000)
    records = [Record.build(index, **cleanse_core(raw)[0]) for index, (_, raw) in enumerate(rows)]
    by_person: dict[int, list[int]] = {}
    for index, (person, _) in enumerate(rows):
        by_person.setdefault(person, []).append(index)
    truth = {(a, b) for group in by_person.values() for a in group for b in group if a < b}
    return records, truth, score_records(records)


def test_every_score_band_is_right_as_often_as_it_says(heavy):
    _, truth, scored = heavy
    bands: dict[int, list[tuple[float, bool]]] = {}
    for i, j, value in zip(
        scored.left.tolist(), scored.right.tolist(), scored.values.tolist(), strict=True
    ):
        bands.setdefault(min(int(value * 10), 9), []).append((value, (i, j) in truth))
    checked = 0
    for band, values in sorted(bands.items()):
        if len(values) < MIN_PAIRS:
            continue
        mean = float(np.mean([value for value, _ in values]))
        observed = sum(hit for _, hit in values) / len(values)
        assert abs(mean - observed) <= 0.05, (band, len(values), mean, observed)
        checked += 1
    assert checked == 10  # every band is populated enough to be judged


def test_sure_pairs_are_right_and_few_true_pairs_are_missed(heavy):
    _, truth, scored = heavy
    pairs = set(zip(scored.left.tolist(), scored.right.tolist(), strict=True))
    sure = {
        pair
        for pair, value in zip(
            zip(scored.left.tolist(), scored.right.tolist(), strict=True),
            scored.values.tolist(),
            strict=True,
        )
        if value >= 0.9
    }
    assert len(pairs & truth) / len(truth) >= 0.995  # blocking's pair completeness
    # pairs, before the clusters' guards (which take precision to 0.999)
    assert len(sure & truth) / len(sure) >= 0.99
    assert len(sure & truth) / len(truth) >= 0.9


HOUSEHOLD = (
    Record.build(1, first_name="Ingrid", last_name="Sørensen", address_line1="Storgata 4",
                 postal_code="0155", city="Oslo", phone="+4722334455"),
    Record.build(2, first_name="Magnus", last_name="Sørensen", address_line1="Storgata 4",
                 postal_code="0155", city="Oslo", phone="+4722334455"),
)  # fmt: skip
WITHOUT_PHONE = (HOUSEHOLD[0], replace(HOUSEHOLD[1], pk=3, phone=""))


@pytest.mark.parametrize("pair", [HOUSEHOLD, WITHOUT_PHONE], ids=["landline", "no phone"])
def test_an_explanation_adds_up_to_the_score(heavy, pair):
    model = heavy[2].model
    levels = compare(*pair)
    explained = model.explain(levels, pair[0])
    weights = sum(item["weight"] for item in explained["fields"].values())
    evidence = explained["prior"] + weights + explained["together"]
    assert evidence == pytest.approx(model.log_odds(levels, pair[0]), abs=0.05)
    assert model.score(levels, pair[0]) == pytest.approx(1 / (1 + 2**-evidence), abs=0.01)


def test_a_household_on_one_landline_is_not_a_sure_match(heavy):
    """Two first names, one last name, address and landline: the old model
    multiplied the three agreements as if independent and scored 0.97."""
    model = heavy[2].model
    assert model.score(compare(*HOUSEHOLD), HOUSEHOLD[0]) < 0.9
    levels = compare(*WITHOUT_PHONE)
    assert model.explain(levels, WITHOUT_PHONE[0])["together"] < 0
    assert model.score(levels, WITHOUT_PHONE[0]) < 0.5
