"""Duplicate detection: score likely duplicates, queue them, merge on decision.

``find_duplicates`` compares active profiles that share a blocking key (see
``customers.services.matching``), stores pairs scoring at least
``suggest_above`` as ``DuplicateSuggestion`` rows for review, and with
``merge_above`` merges every pair scoring at least that (logged and
undoable like any merge). Pairs a steward decided on are never suggested
again.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from customers.models import Customer, DuplicateSuggestion, IdentifierType, Identity, Merge
from customers.services.matching import Record, candidate_pairs, score
from customers.services.merging import (
    MergeError,
    choose_survivor,
    merge_customers,
    merge_groups,
    save_fields,
)

DEFAULT_SUGGEST_ABOVE = 0.5
DEFAULT_MERGE_ABOVE = 0.9
_FIELDS = (
    "pk",
    "first_name",
    "last_name",
    "email",
    "phone",
    "birthday",
    "address_line1",
    "postal_code",
    "city",
)


@dataclass
class FindReport:
    profiles: int = 0
    compared: int = 0
    suggested: int = 0
    merged: int = 0
    not_merged: int = 0
    seconds_scoring: float = 0.0
    seconds_merging: float = 0.0


def load_records() -> list[Record]:
    rows = Customer.objects.active().order_by("pk").values_list(*_FIELDS)
    return [
        Record.build(row[0], **dict(zip(_FIELDS[1:], row[1:], strict=True)))
        for row in rows.iterator(chunk_size=5000)
    ]


def score_all() -> list[tuple[float, tuple[int, int]]]:
    """Every candidate pair of active profiles with its score (for measuring)."""
    records = load_records()
    scored = []
    for i, j in candidate_pairs(records):
        a, b = records[i], records[j]
        pair = (a.pk, b.pk) if a.pk < b.pk else (b.pk, a.pk)
        scored.append((score(a, b)[0], pair))
    return scored


def _store(found: list[tuple[float, tuple[int, int], dict]]) -> dict[tuple[int, int], int]:
    """Create or refresh pending suggestions; returns their ids by pair."""
    existing = {
        (a, b): pk
        for pk, a, b in DuplicateSuggestion.objects.filter(status="pending").values_list(
            "pk", "customer_a_id", "customer_b_id"
        )
    }
    new = [
        DuplicateSuggestion(customer_a_id=a, customer_b_id=b, score=s, comparison=outcomes)
        for s, (a, b), outcomes in found
        if (a, b) not in existing
    ]
    DuplicateSuggestion.objects.bulk_create(new, batch_size=2000)
    save_fields(
        [
            (
                DuplicateSuggestion(pk=existing[pair], score=s, comparison=outcomes),
                ["score", "comparison"],
            )
            for s, pair, outcomes in found
            if pair in existing
        ]
    )
    pairs = [pair for _, pair, _ in found]
    ids = {}
    for start in range(0, len(pairs), 2000):
        chunk = {a for a, _ in pairs[start : start + 2000]}
        for pk, a, b in DuplicateSuggestion.objects.filter(
            status="pending", customer_a_id__in=chunk
        ).values_list("pk", "customer_a_id", "customer_b_id"):
            ids[(a, b)] = pk
    return ids


def find_duplicates(
    *, suggest_above: float = DEFAULT_SUGGEST_ABOVE, merge_above: float | None = None
) -> FindReport:
    """Score candidate pairs, queue likely duplicates, optionally merge the surest."""
    report = FindReport()
    started = time.perf_counter()
    records = load_records()
    report.profiles = len(records)
    decided = set(
        DuplicateSuggestion.objects.exclude(status="pending").values_list(
            "customer_a_id", "customer_b_id"
        )
    )
    found = []
    for i, j in candidate_pairs(records):
        a, b = records[i], records[j]
        pair = (a.pk, b.pk) if a.pk < b.pk else (b.pk, a.pk)
        if pair in decided:
            continue
        report.compared += 1
        value, outcomes = score(a, b)
        if value >= suggest_above:
            found.append((round(value, 4), pair, outcomes))
    found.sort(key=lambda item: (-item[0], item[1]))
    with transaction.atomic():
        ids = _store(found)
    report.suggested = len(found)
    report.seconds_scoring = time.perf_counter() - started
    if merge_above is not None:
        started = time.perf_counter()
        sure = [(value, pair) for value, pair, _ in found if value >= merge_above]
        report.merged, report.not_merged = _merge_sure(sure, ids)
        report.seconds_merging = time.perf_counter() - started
    return report


def _merge_sure(sure: list[tuple[float, tuple[int, int]]], ids: dict) -> tuple[int, int]:
    """Merge every sure pair, best first, clustering transitively, in bulk.

    A pair whose clusters together would break an identifier limit (two
    different user ids) is left for review. Returns (merges, pairs left).
    """
    involved = sorted({pk for _, pair in sure for pk in pair})
    info: dict[int, tuple[bool, object]] = {}
    counts: dict[int, Counter] = {pk: Counter() for pk in involved}
    for start in range(0, len(involved), 5000):
        chunk = involved[start : start + 5000]
        for pk, identified, first_seen in Customer.objects.filter(pk__in=chunk).values_list(
            "pk", "is_identified", "first_seen"
        ):
            info[pk] = (identified, first_seen)
        for pk, type_id in Identity.objects.filter(customer_id__in=chunk).values_list(
            "customer_id", "type_id"
        ):
            counts[pk][type_id] += 1
    limits = dict(IdentifierType.objects.values_list("pk", "max_per_profile"))
    parent = {pk: pk for pk in involved}

    def find(pk: int) -> int:
        while parent[pk] != pk:
            parent[pk] = parent[parent[pk]]
            pk = parent[pk]
        return pk

    merged_pairs: list[tuple[float, tuple[int, int]]] = []
    left = 0
    for value, (a, b) in sure:
        root_a, root_b = find(a), find(b)
        if root_a != root_b:
            combined = counts[root_a] + counts[root_b]
            if any(n > limits.get(type_id, n) for type_id, n in combined.items()):
                left += 1
                continue
            parent[root_b], counts[root_a] = root_a, combined
        merged_pairs.append((value, (a, b)))
    clusters: dict[int, list[int]] = {}
    for pk in involved:
        clusters.setdefault(find(pk), []).append(pk)
    groups = []
    for members in clusters.values():
        if len(members) > 1:
            survivor = min(members, key=lambda pk: (not info[pk][0], info[pk][1], pk))
            groups.append((survivor, [pk for pk in members if pk != survivor]))
    details: dict[int, dict] = {}
    for value, pair in merged_pairs:
        for pk in pair:
            details.setdefault(pk, {"score": value, "suggestion_id": ids.get(pair)})
    merges: list[Merge] = []
    for start in range(0, len(groups), 2000):
        merges += merge_groups(
            groups=groups[start : start + 2000], reason=Merge.Reason.DUPLICATE, details=details
        )
    by_absorbed = {m.absorbed_id: m.pk for m in merges}
    now = timezone.now()
    save_fields(
        [
            (
                DuplicateSuggestion(
                    pk=ids[pair],
                    status=DuplicateSuggestion.Status.MERGED,
                    decided_at=now,
                    merge_id=by_absorbed.get(pair[1]) or by_absorbed.get(pair[0]),
                ),
                ["status", "decided_at", "merge"],
            )
            for _, pair in merged_pairs
            if pair in ids
        ]
    )
    return len(merges), left


def _survivor_id(pk: int) -> int:
    seen = set()
    while pk not in seen:
        seen.add(pk)
        nxt = Customer.objects.filter(pk=pk).values_list("merged_into_id", flat=True).first()
        if nxt is None:
            return pk
        pk = nxt
    return pk


def _within_limits(pks: list[int]) -> bool:
    limits = dict(IdentifierType.objects.values_list("pk", "max_per_profile"))
    counts: dict[int, int] = {}
    for type_id in Identity.objects.filter(customer_id__in=pks).values_list("type_id", flat=True):
        counts[type_id] = counts.get(type_id, 0) + 1
    return all(count <= limits.get(type_id, count) for type_id, count in counts.items())


@transaction.atomic
def merge_suggestion(*, suggestion: DuplicateSuggestion, actor=None) -> Merge | None:
    """Merge the two profiles of a suggestion (they may have merged since).

    Refuses (``MergeError``) when the merged profile would break an
    identifier limit, e.g. two different user ids: that needs a person.
    """
    a, b = _survivor_id(suggestion.customer_a_id), _survivor_id(suggestion.customer_b_id)
    merge = None
    if a != b:
        if not _within_limits([a, b]):
            raise MergeError("limit_conflict", "merging would break an identifier limit")
        customers = list(Customer.objects.filter(pk__in=[a, b]).order_by("pk"))
        survivor = choose_survivor(customers)
        absorbed = next(c for c in customers if c.pk != survivor.pk)
        detail = {"score": suggestion.score, "suggestion_id": suggestion.pk}
        if actor is not None:
            detail["by"] = actor.get_username()
        [merge] = merge_customers(
            survivor=survivor,
            absorbed=[absorbed],
            reason=Merge.Reason.DUPLICATE,
            detail=detail,
            actor=actor,
        )
    DuplicateSuggestion.objects.filter(pk=suggestion.pk).update(
        status="merged", decided_at=timezone.now(), decided_by=actor, merge=merge
    )
    return merge


def reject_suggestion(*, suggestion: DuplicateSuggestion, actor=None) -> None:
    """ "Not the same person": remembered, never suggested again."""
    DuplicateSuggestion.objects.filter(pk=suggestion.pk).update(
        status="distinct", decided_at=timezone.now(), decided_by=actor
    )
