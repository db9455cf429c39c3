"""The column-wise engine (issue 22, scale): the same levels and scores as the
one-pair reference (``comparisons.compare``, ``Model.score``), without a
Python call per pair, and explanations built only for what is stored."""

import random
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from customers.linkage import scoring
from customers.linkage.columns import Columns, compare_pairs, encode_levels
from customers.linkage.comparisons import compare
from customers.linkage.model import encode
from customers.linkage.records import Record
from customers.linkage.scoring import score_records
from customers.models import Customer, DuplicateSuggestion
from customers.services.duplicates import find_duplicates

FIRST = ["Annabel", "Anabel", "A.", "Ann", "Bill", "William", "Rey", "Rcy", "Søren", "Soren"]
LAST = ["Lindqvist", "Lindquist", "Müller", "Mueller", "Blanchet", "Blanshet", "Luz", "Lzu"]
STREETS = ["Hauptstraße 12", "Hauptstr. 12", "Hauptstraße 21", "12 Main Street", "Gartenweg 3"]


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _people(seed: int, n: int) -> list[Record]:
    """Names, contacts and dates drawn from small pools with typos, swaps and
    gaps, so that every level of every field occurs many times."""
    rng = random.Random(seed)
    records = []
    for pk in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        if rng.random() < 0.2:
            first, last = last, first
        born = date(1960, 1, 1) + timedelta(days=rng.randrange(0, 400, 37))
        if rng.random() < 0.2:
            born = date(born.year, born.day, born.month) if born.day <= 12 else born
        mailbox = rng.choice(["ann.l", "annl", "a.lind"])
        values = {
            "first_name": first if rng.random() > 0.1 else "",
            "last_name": _typo(rng, last) if rng.random() < 0.2 else last,
            "email": f"{mailbox}@{rng.choice(['example.com', 'example.org'])}",
            "phone": rng.choice(["+4915123456789", "+4915123456798", "+4930123456"]),
            "birthday": born if rng.random() > 0.15 else None,
            "address_line1": rng.choice(STREETS),
            "postal_code": rng.choice(["10115", "10117", ""]),
            "city": rng.choice(["Berlin", "Potsdam", ""]),
        }
        for name in ("email", "phone", "address_line1"):
            if rng.random() < 0.15:
                values[name] = ""
        records.append(Record.build(pk, **values))
    return records


def _all_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    left, right = np.triu_indices(n, k=1)
    return left.astype(np.int32), right.astype(np.int32)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_column_wise_levels_equal_the_one_pair_reference(seed):
    records = _people(seed, 120)
    left, right = _all_pairs(len(records))
    codes = encode_levels(compare_pairs(Columns.build(records), left, right))
    expected = [encode(compare(records[i], records[j])) for i, j in zip(left, right, strict=True)]
    assert codes.tolist() == expected
    # every level of every field was reached, or the test proves little
    levels = compare_pairs(Columns.build(records), left, right)
    for row, count in zip(levels, (5, 5, 3, 4, 4, 4), strict=True):
        assert set(np.unique(row).tolist()) == {-1, *range(count)}


names = st.text(alphabet="abcdeéøl1 -.", max_size=8)
records_strategy = st.lists(
    st.builds(
        lambda first, last, email, phone, day: Record.build(
            0,
            first_name=first,
            last_name=last,
            email=email,
            phone=phone,
            birthday=day,
        ),
        names,
        names,
        st.sampled_from(["", "a@x.de", "b@x.de", "a@y.de", "ab@x.de"]),
        st.sampled_from(["", "4930123", "4930132", "4930124", "49301234"]),
        st.one_of(st.none(), st.dates(date(1980, 1, 1), date(1980, 12, 31))),
    ),
    min_size=2,
    max_size=12,
)


@given(records_strategy)
def test_column_wise_levels_equal_the_reference_on_any_values(records):
    left, right = _all_pairs(len(records))
    codes = encode_levels(compare_pairs(Columns.build(records), left, right))
    expected = [encode(compare(records[i], records[j])) for i, j in zip(left, right, strict=True)]
    assert codes.tolist() == expected


def test_column_wise_scores_equal_the_one_pair_scores():
    records = _people(4, 150)
    scored = score_records(records)
    assert len(scored) > 100
    for value, i, j, _ in scored.scores():
        reference = scored.model.score(compare(records[i], records[j]), records[i])
        assert value == pytest.approx(reference, abs=1e-9)


def test_scoring_makes_no_python_call_per_pair(monkeypatch):
    def one_pair(*args):
        raise AssertionError("the one-pair comparison was called while scoring")

    monkeypatch.setattr(scoring, "compare", one_pair)
    scored = score_records(_people(5, 200))
    assert len(scored) > 100


def test_explanations_are_built_for_stored_suggestions_once_per_pattern_and_names(db, monkeypatch):
    # ten families of four profiles: Annabel/Anabel twice each, same last
    # name and birthday; many stored pairs share one pattern and one pair of
    # names, and so one explanation
    for n in range(40):
        Customer.objects.create(
            first_name=["Annabel", "Anabel"][n % 2],
            last_name=f"Lindqvist{n // 4}",
            birthday=date(1980, 1, 1 + n // 4),
            city="Berlin",
        )
    built = []
    explain = scoring.Scored.explain

    def counted(self, i, code):
        built.append((i, code))
        return explain(self, i, code)

    monkeypatch.setattr(scoring.Scored, "explain", counted)
    report = find_duplicates()
    assert report.compared > report.suggested > 0
    assert report.suggested == DuplicateSuggestion.objects.count()
    assert 0 < len(built) < report.suggested
    for suggestion in DuplicateSuggestion.objects.all():
        assert set(suggestion.comparison["fields"]) == {
            "first_name",
            "last_name",
            "email",
            "phone",
            "birthday",
            "address",
        }
