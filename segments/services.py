"""The write layer for segments: saving rules, recomputing, live re-evaluation.

Membership changes and their ``segment.entered`` / ``segment.exited`` outbox
entries are written in one transaction. Inserts use ``ON CONFLICT DO
NOTHING … RETURNING`` and exits ``UPDATE … RETURNING``, so a recompute and a
live re-evaluation racing on the same profile never double-enter it or emit
an event for a change they did not make.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from accounts.permissions import require_permissions
from consent.registry import ConsentChange
from core.outbox import Topic, emit_for_customers
from customers.models import Customer
from customers.services.versions import bump_stamps
from segments import evaluation, membership
from segments.compiler import compile_rule, matching_from_events
from segments.models import ComputedTrait, Segment, SegmentMembership, SegmentSize
from segments.rules import dependencies, validate_rule

log = logging.getLogger(__name__)
MEMBERSHIP = SegmentMembership._meta.db_table


@dataclass(frozen=True)
class RecomputeResult:
    segment_id: int
    entered: int
    exited: int
    size: int


# --- defining segments ---------------------------------------------------------


@transaction.atomic
def save_segment(
    *,
    name: str,
    kind: str = Segment.Kind.DYNAMIC,
    rule: dict | None = None,
    description: str = "",
    is_active: bool = True,
    segment: Segment | None = None,
    personalize: bool | None = None,
) -> Segment:
    """Create or update a segment; a dynamic one's rule must validate.

    ``personalize`` (browsers may learn membership): None keeps it as it is.

    Raises ``segments.rules.InvalidRule``. The new membership is computed
    after commit (a task; inline without a broker).
    """
    # the tasks wrap this module's services: a module-level import would be a cycle
    from segments import tasks

    segment = segment or Segment()
    rule = rule or {}
    if kind == Segment.Kind.DYNAMIC:
        validate_rule(rule, segment_id=segment.pk)
    segment.name, segment.kind, segment.description = name, kind, description
    segment.rule = rule if kind == Segment.Kind.DYNAMIC else {}
    segment.is_active = is_active
    if personalize is not None:
        segment.personalize = personalize
    segment.dependencies = dependencies(segment.rule) if segment.rule else []
    segment.save()
    _refresh_dependents(segment.pk)
    segment_id = segment.pk
    transaction.on_commit(lambda: tasks.recompute_segment.delay(segment_id))
    return segment


def _refresh_dependents(segment_id: int) -> None:
    """Segments whose rules include this one inherit its dependencies."""
    marker = f"segment:{segment_id}"
    for other in Segment.objects.filter(kind=Segment.Kind.DYNAMIC).exclude(pk=segment_id):
        if marker in other.dependencies:
            other.dependencies = dependencies(other.rule)
            other.save(update_fields=["dependencies"])


@transaction.atomic
def save_computed_trait(*, trait: ComputedTrait) -> ComputedTrait:
    """Save a computed trait; segments using it re-derive their dependencies."""
    trait.full_clean()
    trait.save()
    evaluation.clear_cache()
    for segment in Segment.objects.filter(kind=Segment.Kind.DYNAMIC):
        if _uses_computed_trait(segment.rule, trait.name):
            segment.dependencies = dependencies(segment.rule)
            segment.save(update_fields=["dependencies"])
    return trait


def _uses_computed_trait(node: object, name: str) -> bool:
    if isinstance(node, dict):
        if node.get("computed_trait") == name:
            return True
        return any(_uses_computed_trait(child, name) for child in node.values())
    if isinstance(node, list):
        return any(_uses_computed_trait(child, name) for child in node)
    return False


# --- recompute -------------------------------------------------------------------


@transaction.atomic
def recompute_segment(
    *, segment_id: int, now: datetime | None = None, actor=None
) -> RecomputeResult:
    """Bring a segment's membership in line with its rule, as a set difference
    in SQL (``segments.membership``). Static segments keep their list and only
    get their size recorded. ``actor``: the person asking (admin action), who
    needs ``segments.change_segment``.
    """
    require_permissions(actor, "segments.change_segment", what="recompute segments")
    now = now or timezone.now()
    segment = Segment.objects.select_for_update().get(pk=segment_id)
    entered = exited = 0
    if segment.kind == Segment.Kind.DYNAMIC and segment.is_active:
        # one event condition: an aggregate over events, read by each statement
        matching = matching_from_events(segment.rule, now=now)
        materialize = matching is None
        if matching is None:
            matching = (
                Customer.objects.active()
                .filter(compile_rule(segment.rule, now=now))
                .order_by()
                .values("pk")
            )
        sql, params = matching.query.sql_with_params()
        entered, exited = membership.apply_matching(
            segment=segment, sql=sql, params=params, now=now, materialize=materialize
        )
    size = _record_size(segment, now)
    return RecomputeResult(segment.pk, entered, exited, size)


def recompute_all_segments(*, now: datetime | None = None) -> list[RecomputeResult]:
    """Every active segment, each in its own transaction; static ones last."""
    now = now or timezone.now()
    ids = Segment.objects.filter(is_active=True).order_by("kind", "pk").values_list("pk", flat=True)
    return [recompute_segment(segment_id=pk, now=now) for pk in ids]


def _record_size(segment: Segment, now: datetime) -> int:
    size = SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).count()
    segment.size, segment.computed_at = size, now
    segment.save(update_fields=["size", "computed_at"])
    SegmentSize.objects.update_or_create(
        segment=segment, day=timezone.localdate(now), defaults={"size": size}
    )
    return size


def _emit(segment: Segment, *, entered: Sequence[int], exited: Sequence[int], now: datetime):
    payload = membership.transition_payload(segment, now)
    for topic, ids in ((Topic.SEGMENT_ENTERED, entered), (Topic.SEGMENT_EXITED, exited)):
        emit_for_customers(topic=topic, customer_ids=list(ids), payload=payload, created_at=now)


# --- live re-evaluation ------------------------------------------------------------


def profile_changes(
    *,
    fields: Iterable[str] = (),
    event: str | None = None,
    identities: Iterable[str] = (),
    source_id: int | None = None,
    merged: bool = False,
) -> list[str]:
    """What a processed message changed, in the vocabulary of segment dependencies.

    ``fields`` as returned by ``ProfileChanges.set_traits`` (``email``, ``traits.plan``),
    ``identities`` as ``type:value``.
    """
    changes = [
        f"trait:{name[7:]}" if name.startswith("traits.") else f"field:{name}" for name in fields
    ]
    if event is not None:
        changes.append(f"event:{event}")
    changes.extend(f"identity:{identity.split(':', 1)[0]}" for identity in identities)
    if source_id is not None:
        changes.append(f"source:{source_id}")
    if merged:
        changes.append("merge")
    return changes


def affected_segments(changes: Iterable[str] | None) -> tuple[list[Segment], tuple]:
    """Active dynamic segments whose answer ``changes`` could alter (None: all),
    and a version of all segment definitions (for the compiled-SQL cache)."""
    everything = list(
        Segment.objects.order_by("pk").only(
            "pk", "name", "kind", "is_active", "dependencies", "updated_at"
        )
    )
    version = (len(everything), max((s.updated_at for s in everything), default=None))
    live = [s for s in everything if s.kind == Segment.Kind.DYNAMIC and s.is_active]
    if changes is None or "merge" in changes:
        return live, version
    changes = set(changes)
    wildcards = {f"{change.split(':', 1)[0]}:*" for change in changes}
    wanted = changes | wildcards
    return [s for s in live if wanted.intersection(s.dependencies)], version


@transaction.atomic
def reevaluate_customers(
    *,
    customer_ids: Iterable[int],
    changes: Iterable[str] | None = None,
    now: datetime | None = None,
) -> dict[str, list[tuple[int, int]]]:
    """Re-evaluate some profiles against the segments their changes could affect.

    One query answers every (profile, segment) pair (its SQL cached briefly,
    see ``segments.evaluation``); only the diff against current membership
    is written. Returns ``{"entered": [(segment, customer)], "exited": [...]}``.
    Merged-away profiles leave all their segments.
    """
    ids = sorted(set(customer_ids))
    result: dict[str, list[tuple[int, int]]] = {"entered": [], "exited": []}
    changes = None if changes is None else list(changes)
    if not ids or changes == []:
        return result
    segments, version = affected_segments(changes)
    if not segments:
        return result
    matches, evaluated = evaluation.evaluate(
        segment_ids=[s.pk for s in segments], customer_ids=ids, version=version, now=now
    )
    by_id = {s.pk: s for s in segments if s.pk in set(evaluated)}
    current = set(
        SegmentMembership.objects.filter(
            segment_id__in=by_id, customer_id__in=ids, exited_at__isnull=True
        ).values_list("segment_id", "customer_id")
    )
    now = now or timezone.now()
    result["entered"] = _enter_pairs(sorted(matches - current), now)
    result["exited"] = _exit_pairs(sorted(current - matches), now)
    # the profiles' documents list their segments: one bump for all, in id order
    bump_stamps(cid for _s, cid in [*result["entered"], *result["exited"]])
    for segment_id, segment in by_id.items():
        entered = [cid for s, cid in result["entered"] if s == segment_id]
        exited = [cid for s, cid in result["exited"] if s == segment_id]
        if entered or exited:
            _emit(segment, entered=entered, exited=exited, now=now)
    return result


def reevaluate_for_consent(changes: Sequence[ConsentChange]) -> None:
    """The consent listener (registered in ``SegmentsConfig.ready``): profiles
    whose consent moved enter or leave the segments that read those purposes,
    in the transaction that recorded the consent."""
    reevaluate_customers(
        customer_ids={change.customer_id for change in changes},
        changes={f"consent:{change.purpose_code}" for change in changes},
    )


def _enter_pairs(pairs: list[tuple[int, int]], now: datetime) -> list[tuple[int, int]]:
    if not pairs:
        return []
    # Memberships keep no foreign-key constraint to their segment: the
    # segments are locked here instead, once each (a deletion, which locks
    # them first, finishes before or waits), and pairs of a deleted one dropped.
    live = _lock_segments_shared({segment_id for segment_id, _cid in pairs})
    pairs = [pair for pair in pairs if pair[0] in live]
    if not pairs:
        return []
    table = connection.ops.quote_name(MEMBERSHIP)
    values = ", ".join(["(%s, %s, %s)"] * len(pairs))
    params = [item for segment_id, cid in pairs for item in (segment_id, cid, now)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (segment_id, customer_id, entered_at) VALUES {values} "  # noqa: S608
            "ON CONFLICT DO NOTHING RETURNING segment_id, customer_id",
            params,
        )
        return sorted((row[0], row[1]) for row in cursor.fetchall())


def _lock_segments_shared(segment_ids: set[int]) -> set[int]:
    """Which of these segments exist, each locked against deletion until commit."""
    query = Segment.objects.filter(pk__in=segment_ids).order_by("pk")
    if connection.vendor != "postgresql":  # SQLite serialises writers already
        return set(query.values_list("pk", flat=True))
    table = connection.ops.quote_name(Segment._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {table} WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE",  # noqa: S608
            [sorted(segment_ids)],
        )
        return {row[0] for row in cursor.fetchall()}


@transaction.atomic
def delete_segments(*, segment_ids: Iterable[int]) -> int:
    """Delete segments with their memberships, sizes and history of sizes.

    The segments are locked first: a recompute or a live re-evaluation
    writing members of one finishes before the rows are collected, so its
    members go too (memberships keep no foreign-key constraint that would
    catch them), and one that starts later finds the segment gone.
    Returns the number of rows deleted.
    """
    locked = list(
        Segment.objects.filter(pk__in=set(segment_ids))
        .order_by("pk")
        .select_for_update()
        .values_list("pk", flat=True)
    )
    return Segment.objects.filter(pk__in=locked).delete()[0]


def _exit_pairs(pairs: list[tuple[int, int]], now: datetime) -> list[tuple[int, int]]:
    done: list[tuple[int, int]] = []
    table = connection.ops.quote_name(MEMBERSHIP)
    by_segment: dict[int, list[int]] = {}
    for segment_id, cid in pairs:
        by_segment.setdefault(segment_id, []).append(cid)
    with connection.cursor() as cursor:
        for segment_id, cids in by_segment.items():
            marks = ", ".join(["%s"] * len(cids))
            cursor.execute(
                f"UPDATE {table} SET exited_at = %s WHERE segment_id = %s "  # noqa: S608
                f"AND exited_at IS NULL AND customer_id IN ({marks}) RETURNING customer_id",
                [now, segment_id, *cids],
            )
            done.extend((segment_id, row[0]) for row in cursor.fetchall())
    return sorted(done)


# --- static segments -------------------------------------------------------------


@transaction.atomic
def add_to_static_segment(
    *, segment: Segment, customer_ids: Iterable[int], now: datetime | None = None
) -> list[int]:
    """Hand-pick or upload members; returns the ids that entered."""
    _require_static(segment)
    now = now or timezone.now()
    ids = set(
        Customer.objects.active().filter(pk__in=set(customer_ids)).values_list("pk", flat=True)
    )
    entered = [cid for _, cid in _enter_pairs([(segment.pk, cid) for cid in sorted(ids)], now)]
    bump_stamps(entered)
    _emit(segment, entered=entered, exited=[], now=now)
    _record_size(segment, now)
    reevaluate_customers(customer_ids=entered, changes=[f"segment:{segment.pk}"], now=now)
    return entered


@transaction.atomic
def remove_from_static_segment(
    *, segment: Segment, customer_ids: Iterable[int], now: datetime | None = None
) -> list[int]:
    """Take members off a static list; returns the ids that exited."""
    _require_static(segment)
    now = now or timezone.now()
    pairs = [(segment.pk, cid) for cid in sorted(set(customer_ids))]
    exited = [cid for _, cid in _exit_pairs(pairs, now)]
    bump_stamps(exited)
    _emit(segment, entered=[], exited=exited, now=now)
    _record_size(segment, now)
    reevaluate_customers(customer_ids=exited, changes=[f"segment:{segment.pk}"], now=now)
    return exited


def _require_static(segment: Segment) -> None:
    if segment.kind != Segment.Kind.STATIC:
        raise ValueError(f"segment {segment.pk} is dynamic: its rule decides membership")
