"""Memory of duplicate detection at scale (issue 22: 1M profiles under 4 GB),
checked without timing: the candidate pairs are deduplicated in the one array
that holds them, profile ids are built only for pairs worth suggesting, and
the per-pair arrays are gone before clusters and merges, while the number of
pairs compared still counts every candidate pair."""

import tracemalloc
from datetime import date

import numpy as np

from customers.linkage import blocking
from customers.linkage.records import Record
from customers.linkage.scoring import score_records
from customers.models import Customer, DuplicateSuggestion
from customers.services import duplicates
from customers.services.duplicates import find_duplicates, load_records


def _families(families: int = 60, size: int = 40) -> list[Record]:
    """Families of ``size`` copies sharing name, birthday, postcode and street:
    every family is one block of many keys, so the pairs repeat many times."""
    return [
        Record.build(
            f * size + k,
            first_name=f"Annabel{chr(97 + f % 26)}{chr(97 + f // 26)}",
            last_name="Lindqvist",
            birthday=date(1950 + f % 50, 1 + f % 12, 1 + k % 2),
            postal_code=f"{10000 + f}",
            address_line1=f"Hauptstraße {f}",
            phone=f"+49151{f:04d}{k:04d}",
            email=f"ann{f}.x{k}@example.com",
        )
        for f in range(families)
        for k in range(size)
    ]


def test_candidate_pairs_are_deduplicated_without_a_second_copy(monkeypatch):
    records = _families()
    repeated = len(blocking._block_pairs(records))  # every key's pairs, with repeats
    monkeypatch.setattr(blocking, "STEP", 10_000, raising=False)
    tracemalloc.start()
    try:
        left, right = blocking.candidate_arrays(records)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the pairs with repeats once (8 bytes each), plus small temporaries;
    # np.unique over a concatenation of pieces needed about three times that
    assert peak < 1.5 * 8 * repeated
    codes = left.astype(np.int64) * len(records) + right
    assert len(left) < repeated
    assert (np.diff(codes) > 0).all()
    by_family = {
        (f + i, f + j)
        for f in range(0, len(records), 40)
        for i in range(40)
        for j in range(i + 1, 40)
    }
    assert by_family <= set(zip(left.tolist(), right.tolist(), strict=True))


def _people():
    # ten families of four profiles of one person (Annabel/Anabel, same last
    # name and birthday), compared with each other's families too
    for n in range(40):
        Customer.objects.create(
            first_name=["Annabel", "Anabel"][n % 2],
            last_name=f"Lindqvist{n // 4}",
            birthday=date(1980, 1, 1 + n // 4),
            city="Berlin",
        )


def test_profile_ids_are_built_only_for_pairs_worth_suggesting(db, monkeypatch):
    _people()
    sizes = []
    pairs = duplicates._pairs

    def counted(a, b):
        sizes.append(len(a))
        return pairs(a, b)

    monkeypatch.setattr(duplicates, "_pairs", counted)
    scored = score_records(load_records())
    worth = int((scored.values >= duplicates.DEFAULT_SUGGEST_ABOVE).sum())
    assert 0 < worth < len(scored)
    sizes.clear()
    report = find_duplicates()
    assert sizes
    assert max(sizes) <= worth
    assert report.compared == len(scored)
    assert report.suggested == worth


def test_pair_arrays_are_released_before_the_merge_step(db, monkeypatch):
    _people()
    seen = []
    plan = duplicates._plan_merges

    def checked(sure, scored):
        seen.append((len(scored), len(scored.left), len(scored.right), len(scored.values)))
        return plan(sure, scored)

    monkeypatch.setattr(duplicates, "_plan_merges", checked)
    report = find_duplicates(merge_above=0.9)
    assert report.merged > 0
    assert seen == [(0, 0, 0, 0)]


def test_pairs_compared_counts_decided_pairs_of_any_score_out(db):
    _people()
    Customer.objects.create(first_name="Otto", last_name="Weber", birthday=date(1950, 6, 1))
    records = load_records()
    scored = score_records(records)
    pks = [record.pk for record in records]
    low = np.flatnonzero(scored.values < 0.5)[:3]
    high = np.flatnonzero(scored.values >= 0.5)[:1]
    assert len(low) == 3
    assert len(high) == 1
    for i in (*low, *high):
        DuplicateSuggestion.objects.create(
            customer_a_id=pks[scored.left[i]],
            customer_b_id=pks[scored.right[i]],
            score=0.1,
            status="distinct",
        )
    # a decided pair that is no candidate at all changes nothing
    DuplicateSuggestion.objects.create(
        customer_a_id=pks[0], customer_b_id=pks[-1], score=0.1, status="distinct"
    )
    assert (0, len(pks) - 1) not in set(
        zip(scored.left.tolist(), scored.right.tolist(), strict=True)
    )
    report = find_duplicates()
    assert report.compared == len(scored) - 4
    assert report.suggested == int((scored.values >= 0.5).sum()) - 1
