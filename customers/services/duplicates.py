"""Duplicate detection: score likely duplicates, queue them, merge on decision.

``find_duplicates`` runs the record-linkage engine (``customers.linkage``)
over the active profiles: several blocking keys pick the candidate pairs,
a Fellegi-Sunter model estimated from those pairs scores each as a
calibrated match probability, pairs scoring at least ``suggest_above`` are
stored as ``DuplicateSuggestion`` rows with their explanation (per field:
the comparison level and its weight), and with ``merge_above`` the surest
pairs are grouped into clusters (``customers.linkage.clusters``: merge
cap, identifier limits, no chaining of people who disagree) and merged,
logged and undoable like any merge; a sure pair those rules hold stays
pending with the rule's name (``held``). Pairs a steward decided on are never
suggested again, and two profiles a steward called different people never
end up in one cluster. Suggestions the new run no longer finds are marked
stale.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.permissions import require_permissions
from core.db.copy import insert_values, reserve_ids, update_values
from core.db.sets import id_batches
from customers.linkage.clusters import plan_clusters
from customers.linkage.comparisons import compare
from customers.linkage.records import FIELDS, Record
from customers.linkage.scoring import Scored, score_records
from customers.models import Customer, DuplicateSuggestion, IdentifierType, Identity, Merge
from customers.selectors import resolve_survivor_id
from customers.services.identity import IdentityRules, identifiers_held
from customers.services.merging import (
    MergeError,
    choose_survivor,
    merge_customers,
    merge_groups,
    save_fields,
    survivor_rank,
)

DEFAULT_SUGGEST_ABOVE = 0.5
DEFAULT_MERGE_ABOVE = 0.9
_PAIR_CHUNK = 1_000_000  # candidate pairs looked at at once
_CHUNK = 2000  # rows written per statement
REVIEW_SUGGESTIONS = ("customers.change_duplicatesuggestion",)
Status = DuplicateSuggestion.Status


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
    rows = Customer.objects.active().order_by("pk").values_list("pk", *FIELDS)
    return [
        Record.build(row[0], **dict(zip(FIELDS, row[1:], strict=True)))
        for row in rows.iterator(chunk_size=5000)
    ]


def score_all() -> list[tuple[float, tuple[int, int]]]:
    """Every candidate pair of active profiles with its score (for measuring)."""
    scored = score_records(load_records())
    pks = np.array([record.pk for record in scored.records], dtype=np.int64)
    low, high = _pairs(pks[scored.left], pks[scored.right])
    return list(
        zip(scored.values.tolist(), zip(low.tolist(), high.tolist(), strict=True), strict=True)
    )


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.minimum(a, b), np.maximum(a, b)


@dataclass(frozen=True, slots=True)
class _Found:
    """A pair to store: its score, profile ids (low, high), and what its
    explanation is built from (the first record's index and the pattern
    code), so that explanations exist only while they are written."""

    score: float
    pair: tuple[int, int]
    index: int
    code: int


def _decided_pairs() -> np.ndarray:
    """Profile id pairs (low, high) a steward decided on already (merged or
    "not the same"), one row each."""
    decided = np.array(
        list(
            DuplicateSuggestion.objects.filter(
                status__in=(Status.MERGED, Status.DISTINCT)
            ).values_list("customer_a_id", "customer_b_id")
        ),
        dtype=np.int64,
    ).reshape(-1, 2)
    return np.stack(_pairs(decided[:, 0], decided[:, 1]), axis=1)


def _decided(low: np.ndarray, high: np.ndarray, decided: np.ndarray) -> np.ndarray:
    """Which of the pairs (profile ids) are among ``decided``."""
    if not len(decided) or not len(low):
        return np.zeros(len(low), dtype=bool)
    width = int(max(high.max(), decided.max())) + 1
    return np.isin(low * width + high, decided[:, 0] * width + decided[:, 1])


def _decided_candidates(scored: Scored, pks: np.ndarray, decided: np.ndarray) -> int:
    """How many candidate pairs (of any score) are ``decided`` pairs: looked up
    from the decided side, so that no profile-id array is built per candidate
    pair (``pks`` ascending, one per record, as ``load_records`` orders them)."""
    if not len(decided) or not len(scored):
        return 0
    where = np.searchsorted(pks, decided).clip(max=len(pks) - 1)
    active = (pks[where] == decided).all(axis=1)
    n = len(pks)
    wanted = np.unique(where[active, 0] * n + where[active, 1])  # record indexes, low < high
    involved = np.zeros(n, dtype=bool)
    involved[where[active, 0]] = True
    count = 0
    for start in range(0, len(scored), _PAIR_CHUNK):
        left = scored.left[start : start + _PAIR_CHUNK]
        near = np.flatnonzero(involved[left])
        if len(near):
            right = scored.right[start : start + _PAIR_CHUNK][near]
            count += int(np.isin(left[near].astype(np.int64) * n + right, wanted).sum())
    return count


def _store(
    found: list[_Found], explain: Callable[[_Found], dict], *, defer: set[tuple[int, int]]
) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int], _Found]]:
    """Create or refresh open suggestions (explained), mark the ones not
    found again stale. Returns the ids of the found ones by pair, and the new
    pairs of ``defer`` left for the caller to insert (only where ids are
    numbered before inserting, PostgreSQL): pairs about to be merged, written
    once with their merge rather than twice."""
    existing = {
        (a, b): pk
        for pk, a, b in DuplicateSuggestion.objects.filter(
            status__in=(Status.PENDING, Status.STALE)
        ).values_list("pk", "customer_a_id", "customer_b_id")
    }
    new = [item for item in found if item.pair not in existing]
    # PostgreSQL numbers the new rows first, so they need not be read back
    new_ids = reserve_ids(DuplicateSuggestion, len(new))
    deferred = {}
    if new_ids is not None:
        deferred = {item.pair: item for item in new if item.pair in defer}
    columns = ("customer_a_id", "customer_b_id", "score", "comparison", "status", "created_at")
    for start in range(0, len(new), _CHUNK):
        now = timezone.now()
        rows = [
            (*item.pair, item.score, explain(item), Status.PENDING, now)
            for item in new[start : start + _CHUNK]
        ]
        if new_ids is None:
            insert_values(DuplicateSuggestion, columns, rows)
        else:
            insert_values(
                DuplicateSuggestion,
                ("id", *columns),
                [
                    (pk, *row)
                    for pk, row in zip(new_ids[start : start + _CHUNK], rows, strict=True)
                    if (row[0], row[1]) not in deferred
                ],
            )
    refreshed = [item for item in found if item.pair in existing]
    for start in range(0, len(refreshed), _CHUNK):
        save_fields(
            [
                (
                    DuplicateSuggestion(
                        pk=existing[item.pair],
                        score=item.score,
                        comparison=explain(item),
                        status=Status.PENDING,
                    ),
                    ["score", "comparison", "status"],
                )
                for item in refreshed[start : start + _CHUNK]
            ]
        )
    found_pairs = {item.pair for item in found}
    gone = [pk for pair, pk in existing.items() if pair not in found_pairs]
    for start in range(0, len(gone), _CHUNK):
        DuplicateSuggestion.objects.filter(pk__in=gone[start : start + _CHUNK]).update(
            status=Status.STALE
        )
    if new_ids is not None:
        ids = {item.pair: existing[item.pair] for item in refreshed}
        ids.update((item.pair, pk) for item, pk in zip(new, new_ids, strict=True))
        return ids, deferred
    pairs = sorted(found_pairs)
    ids = {}
    for start in range(0, len(pairs), _CHUNK):
        chunk_ids = {a for a, _ in pairs[start : start + _CHUNK]}
        for pk, a, b in DuplicateSuggestion.objects.filter(
            status=Status.PENDING, customer_a_id__in=chunk_ids
        ).values_list("pk", "customer_a_id", "customer_b_id"):
            ids[(a, b)] = pk
    return ids, deferred


def find_duplicates(
    *, suggest_above: float = DEFAULT_SUGGEST_ABOVE, merge_above: float | None = None
) -> FindReport:
    """Score candidate pairs, queue likely duplicates, optionally merge the surest."""
    report = FindReport()
    started = time.perf_counter()
    records = load_records()
    report.profiles = len(records)
    scored = score_records(records)
    pks = np.array([record.pk for record in records], dtype=np.int64)
    decided = _decided_pairs()
    report.compared = len(scored) - _decided_candidates(scored, pks, decided)
    # profile ids only for the pairs worth suggesting, not for every candidate
    chosen = np.flatnonzero(scored.values >= suggest_above)
    low, high = _pairs(pks[scored.left[chosen]], pks[scored.right[chosen]])
    kept = ~_decided(low, high, decided)
    chosen, low, high = chosen[kept], low[kept], high[kept]
    found = [
        _Found(score=round(value, 4), pair=(a, b), index=index, code=code)
        for value, a, b, index, code in zip(
            scored.values[chosen].tolist(),
            low.tolist(),
            high.tolist(),
            scored.left[chosen].tolist(),
            scored.codes[chosen].tolist(),
            strict=True,
        )
    ]
    del chosen, low, high, kept, pks
    # the per-pair arrays (tens of millions of pairs at a million profiles)
    # are not needed by the clusters, the merges or the explanations
    scored.release_pairs()
    found.sort(key=lambda item: (-item.score, item.pair))

    explained: dict[tuple, dict] = {}
    # per record, what its first and last name's frequencies add to an exact agreement
    name_bits = list(scored.model.name_frequency_bits(records).values())

    def explain(item: _Found) -> dict:
        # a function of the pattern and of the weights of the first record's
        # names (their frequencies, ``Model.evidence``): many pairs share one
        key = (item.code, *(float(bits[item.index]) for bits in name_bits))
        if key not in explained:
            explained[key] = scored.explain(item.index, item.code)
        return explained[key]

    plan, planning = None, 0.0
    if merge_above is not None:
        planned = time.perf_counter()
        plan = _plan_merges([item for item in found if item.score >= merge_above], scored)
        planning = time.perf_counter() - planned
    with transaction.atomic():
        ids, deferred = _store(found, explain, defer=set(plan.joined) if plan else set())
    report.suggested = len(found)
    report.seconds_scoring = time.perf_counter() - started - planning
    if plan is not None:
        started = time.perf_counter()
        report.merged = _merge_planned(plan, ids, deferred, explain)
        report.not_merged = len(plan.held)
        report.seconds_merging = time.perf_counter() - started + planning
    return report


def _identifier_counts(pks: list[int]) -> tuple[dict[int, Counter], dict[int, tuple]]:
    """Per profile, how many identifiers of each type count toward limits, and
    its rank by the survivor rule (``merging.survivor_rank``); plain values,
    not model instances, for hundreds of thousands of profiles."""
    counts: dict[int, Counter] = {pk: Counter() for pk in pks}
    ranks: dict[int, tuple] = {}
    type_names = dict(IdentifierType.objects.values_list("pk", "name"))
    for chunk in id_batches(pks):
        for pk, identified, first_seen in Customer.objects.filter(pk__in=chunk).values_list(
            "pk", "is_identified", "first_seen"
        ):
            ranks[pk] = survivor_rank(identified, first_seen, pk)
        counted = Identity.objects.filter(customer_id__in=chunk, superseded_at__isnull=True)
        for pk, type_id in counted.values_list("customer_id", "type_id"):
            counts[pk][type_names[type_id]] += 1
    return counts, ranks


@dataclass(frozen=True)
class _Plan:
    """The sure pairs' clusters: ``groups`` (survivor, absorbed ids) to merge,
    ``joined`` the pairs that put them together (each once, in plan order),
    ``held`` the sure pairs the cluster rules held, with the rule's name."""

    sure: dict[tuple[int, int], _Found]
    groups: list[tuple[int, list[int]]]
    joined: list[tuple[int, int]]
    held: list[tuple[tuple[int, int], str]]


def _plan_merges(sure: list[_Found], scored: Scored) -> _Plan:
    """Cluster the sure pairs (``plan_clusters``: merge cap, identifier limits,
    no chaining of people who disagree, never two a steward called different)."""
    distinct = set(
        DuplicateSuggestion.objects.filter(status=Status.DISTINCT).values_list(
            "customer_a_id", "customer_b_id"
        )
    )
    involved = sorted({pk for item in sure for pk in item.pair})
    counts, ranks = _identifier_counts(involved)
    rules = IdentityRules.load()
    by_pk = {record.pk: record for record in scored.records}

    def fits(left: list[int], right: list[int]) -> bool:
        total: Counter = Counter()
        for pk in (*left, *right):
            total.update(counts[pk])
        return rules.fits_counts(total)

    def cross_score(x: int, y: int) -> float:
        if _pair(x, y) in distinct:
            return 0.0
        return scored.model.score(compare(by_pk[x], by_pk[y]), by_pk[x])

    plan = plan_clusters(
        ((item.score, *item.pair) for item in sure),
        cap=settings.TRIBUTARY_MAX_MERGE_PROFILES,
        fits=fits,
        cross_score=cross_score,
    )
    groups = []
    for members in plan.groups:
        survivor = min(members, key=ranks.__getitem__)
        groups.append((survivor, [pk for pk in members if pk != survivor]))
    return _Plan(
        sure={item.pair: item for item in sure},
        groups=groups,
        joined=list(dict.fromkeys(_pair(a, b) for _, a, b in plan.joined)),
        held=[(_pair(a, b), reason) for _, a, b, reason in plan.held],
    )


def _merge_planned(
    plan: _Plan,
    ids: dict[tuple[int, int], int],
    deferred: dict[tuple[int, int], _Found],
    explain: Callable[[_Found], dict],
) -> int:
    """Merge the planned clusters in bulk, each chunk in one transaction with
    its suggestions marked merged (those ``deferred`` inserted so). Returns
    how many profiles were absorbed."""
    details: dict[int, dict] = {}
    for pair in plan.joined:
        if all(pk in details for pk in pair):
            continue
        item = plan.sure[pair]
        detail = {
            "score": item.score,
            "suggestion_id": ids.get(pair),
            "pair": list(pair),
            "comparison": explain(item),
        }
        for pk in pair:
            details.setdefault(pk, detail)
    chunk_of = {
        pk: index // _CHUNK
        for index, (survivor, members) in enumerate(plan.groups)
        for pk in (survivor, *members)
    }
    pairs_of: dict[int, list[tuple[int, int]]] = {}
    for pair in plan.joined:
        if pair in ids:
            pairs_of.setdefault(chunk_of[pair[0]], []).append(pair)
    merged, written = 0, 0
    try:
        for start in range(0, len(plan.groups), _CHUNK):
            with transaction.atomic():
                merges = merge_groups(
                    groups=plan.groups[start : start + _CHUNK],
                    reason=Merge.Reason.DUPLICATE,
                    details=details,
                )
                _mark_merged(pairs_of.get(start // _CHUNK, []), merges, ids, deferred, explain)
            merged += len(merges)
            written = start + _CHUNK
    except Exception:
        # what was not merged stays suggested, as if stored up front
        left = [
            plan.sure[pair]
            for index, pairs in pairs_of.items()
            if index * _CHUNK >= written
            for pair in pairs
            if pair in deferred
        ]
        with transaction.atomic():
            _insert_suggestions(left, ids, explain, status=Status.PENDING)
        raise
    # a sure pair the cluster rules held stays pending, saying which rule
    save_fields(
        [
            (
                DuplicateSuggestion(
                    pk=ids[pair], comparison={**explain(plan.sure[pair]), "held": reason}
                ),
                ["comparison"],
            )
            for pair, reason in plan.held
            if pair in ids
        ]
    )
    return merged


def _insert_suggestions(
    items: list[_Found],
    ids: dict[tuple[int, int], int],
    explain: Callable[[_Found], dict],
    *,
    status: str,
    merge_of: dict[tuple[int, int], int | None] | None = None,
) -> None:
    if not items:
        return
    now = timezone.now()
    decided = now if status == Status.MERGED else None
    insert_values(
        DuplicateSuggestion,
        (
            *("id", "customer_a_id", "customer_b_id", "score", "comparison", "status"),
            *("created_at", "decided_at", "merge_id"),
        ),
        [
            (
                *(ids[item.pair], *item.pair, item.score, explain(item), status),
                *(now, decided, (merge_of or {}).get(item.pair)),
            )
            for item in items
        ],
    )


def _mark_merged(
    pairs: list[tuple[int, int]],
    merges: list[Merge],
    ids: dict[tuple[int, int], int],
    deferred: dict[tuple[int, int], _Found],
    explain: Callable[[_Found], dict],
) -> None:
    """Mark the suggestions of these pairs merged, each linked to the merge
    that absorbed its second profile, else its first (both were active when
    the run began, so no other merge absorbed either): the ``deferred`` ones
    inserted so, the others by one ``UPDATE … FROM`` rows copied in on
    PostgreSQL (``update_values``)."""
    absorbed_by = {merge.absorbed_id: merge.pk for merge in merges}
    merge_of = {(a, b): absorbed_by.get(b, absorbed_by.get(a)) for a, b in pairs}
    _insert_suggestions(
        [deferred[pair] for pair in pairs if pair in deferred],
        ids,
        explain,
        status=Status.MERGED,
        merge_of=merge_of,
    )
    now = timezone.now()
    update_values(
        DuplicateSuggestion,
        ("id", "status", "decided_at", "merge_id"),
        [(ids[pair], Status.MERGED, now, merge_of[pair]) for pair in pairs if pair not in deferred],
    )


@transaction.atomic
def merge_suggestion(*, suggestion: DuplicateSuggestion, actor=None) -> Merge | None:
    """Merge the two profiles of a suggestion (they may have merged since).

    Refuses (``MergeError``) when the merged profile would break an
    identifier limit, e.g. two different user ids: that needs a person.
    """
    require_permissions(actor, *REVIEW_SUGGESTIONS, what="review duplicate suggestions")
    a, b = (
        resolve_survivor_id(suggestion.customer_a_id),
        resolve_survivor_id(suggestion.customer_b_id),
    )
    merge = None
    if a != b:
        held = identifiers_held([a, b])
        if not IdentityRules.load().fits(held[a] | held[b]):
            raise MergeError("limit_conflict", "merging would break an identifier limit")
        customers = list(Customer.objects.filter(pk__in=[a, b]).order_by("pk"))
        survivor = choose_survivor(customers)
        absorbed = next(c for c in customers if c.pk != survivor.pk)
        detail = {
            "score": suggestion.score,
            "suggestion_id": suggestion.pk,
            "comparison": suggestion.comparison,
        }
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
        status=Status.MERGED, decided_at=timezone.now(), decided_by=actor, merge=merge
    )
    return merge


def reject_suggestion(*, suggestion: DuplicateSuggestion, actor=None) -> None:
    """ "Not the same person": remembered, never suggested again, never clustered together."""
    require_permissions(actor, *REVIEW_SUGGESTIONS, what="review duplicate suggestions")
    DuplicateSuggestion.objects.filter(pk=suggestion.pk).update(
        status=Status.DISTINCT, decided_at=timezone.now(), decided_by=actor
    )
