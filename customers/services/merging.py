"""Merging profiles, the merge log, and unmerge.

Survivor rule (``choose_survivor``): an identified profile beats an
anonymous one; among equals the oldest wins (``first_seen``, then id).

The survivor takes every row of every app that points at the absorbed
profile (identities, events, group memberships, consent records, segment
memberships, data-quality issues…), found generically through
``Customer._meta.related_objects`` so that ``customers`` imports no other
app. A row is left on the absorbed profile only when the survivor already
holds an equivalent one under a unique constraint (e.g. both are members
of the same group). The merge log (``Merge``) records exactly which rows
moved, so ``unmerge`` can move exactly those back.

Profile values combine per core field and per trait: a value from a source
with a configured ``TraitSourcePriority`` beats an unranked or lower-ranked
source; otherwise the newest value (by provenance time) wins; an empty value
never overwrites a filled one. Provenance travels with the winning value.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from customers.models import CORE_FIELDS, Customer, Merge, OutboxEntry, TraitSourcePriority
from customers.services.outbox import emit

_CHUNK = 5000
_SELF_MODELS = ("Merge", "OutboxEntry", "DuplicateSuggestion", "Customer")


@dataclass(frozen=True)
class MergeError(Exception):
    code: str
    message: str

    def __str__(self) -> str:
        return self.message


def choose_survivor(customers: Sequence[Customer]) -> Customer:
    return min(customers, key=lambda c: (not c.is_identified, c.first_seen, c.pk))


# --- rows of other apps -----------------------------------------------------------


@dataclass(frozen=True)
class _Relation:
    model: type[models.Model]
    field: str

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.field}"


def customer_relations() -> Iterator[_Relation]:
    """Every (model, foreign key) that points at Customer, except the merge
    machinery itself and the outbox (what was emitted stays as emitted)."""
    for rel in Customer._meta.related_objects:
        model = rel.through if rel.many_to_many else rel.related_model
        if model._meta.app_label == "customers" and model.__name__ in _SELF_MODELS:
            continue
        if rel.many_to_many:
            if not model._meta.auto_created:
                continue  # the explicit through model is listed on its own
            field = next(
                f.name for f in model._meta.fields if f.is_relation and f.related_model is Customer
            )
        else:
            field = rel.field.name
        yield _Relation(model=model, field=field)


def _unique_sets(relation: _Relation) -> Iterator[tuple[tuple[str, ...], Q | None]]:
    meta = relation.model._meta
    if meta.get_field(relation.field).unique:
        yield (), None
    for constraint in meta.constraints:
        fields = getattr(constraint, "fields", ())
        if isinstance(constraint, models.UniqueConstraint) and relation.field in fields:
            yield tuple(f for f in fields if f != relation.field), constraint.condition
    for together in meta.unique_together:
        if relation.field in together:
            yield tuple(f for f in together if f != relation.field), None


def _move_rows(relation: _Relation, *, source: Customer, target: Customer) -> tuple[list, list]:
    """Re-point ``source``'s rows to ``target``; returns (moved pks, kept pks)."""
    manager = relation.model._base_manager
    rows = manager.filter(**{relation.field: source})
    kept: set = set()
    for others, condition in _unique_sets(relation):
        held = manager.filter(**{relation.field: target})
        candidates = rows
        if condition is not None:
            held, candidates = held.filter(condition), candidates.filter(condition)
        if not others:
            if held.exists():
                kept.update(candidates.values_list("pk", flat=True))
            continue
        taken = set(held.values_list(*others))
        kept.update(
            pk for pk, *values in candidates.values_list("pk", *others) if tuple(values) in taken
        )
    moved = [pk for pk in rows.values_list("pk", flat=True) if pk not in kept]
    for start in range(0, len(moved), _CHUNK):
        manager.filter(pk__in=moved[start : start + _CHUNK]).update(**{relation.field: target})
    return moved, sorted(kept)


# --- values and provenance ---------------------------------------------------------


def _source_ranks() -> dict[int, int]:
    return dict(TraitSourcePriority.objects.values_list("source_id", "priority"))


def _beats(new: dict | None, held: dict | None, ranks: dict[int, int]) -> bool:
    """Whether a value with provenance ``new`` replaces one with ``held``."""
    new, held = new or {}, held or {}
    new_rank, held_rank = ranks.get(new.get("source")), ranks.get(held.get("source"))
    if new_rank is not None or held_rank is not None:
        if held_rank is None:
            return True
        if new_rank is None:
            return False
        if new_rank != held_rank:
            return new_rank < held_rank
    return (new.get("at") or "") > (held.get("at") or "")


def _jsonable(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _combine(survivor: Customer, absorbed: Customer, ranks: dict[int, int]) -> dict[str, dict]:
    """Apply ``absorbed``'s values to ``survivor`` in memory; return the changes."""
    changes: dict[str, dict] = {}
    provenance = dict(survivor.trait_provenance)
    traits = dict(survivor.traits)
    candidates = [(name, getattr(absorbed, name), getattr(survivor, name)) for name in CORE_FIELDS]
    candidates += [
        (f"traits.{name}", value, traits.get(name)) for name, value in absorbed.traits.items()
    ]
    for key, offered, held in candidates:
        if offered in ("", None) or offered == held:
            continue
        new_prov = absorbed.trait_provenance.get(key)
        if held not in ("", None) and not _beats(new_prov, provenance.get(key), ranks):
            continue
        changes[key] = {
            "before": _jsonable(held),
            "after": _jsonable(offered),
            "before_provenance": provenance.get(key),
            "after_provenance": new_prov,
        }
        if key.startswith("traits."):
            traits[key.removeprefix("traits.")] = offered
        else:
            setattr(survivor, key, offered)
        if new_prov is None:
            provenance.pop(key, None)
        else:
            provenance[key] = new_prov
    for key, pick in (("first_seen", min), ("last_seen", max), ("is_identified", max)):
        before, after = getattr(survivor, key), pick(getattr(survivor, key), getattr(absorbed, key))
        if after != before:
            changes[key] = {"before": _jsonable(before), "after": _jsonable(after)}
            setattr(survivor, key, after)
    survivor.traits, survivor.trait_provenance = traits, provenance
    return changes


# --- merge and unmerge ---------------------------------------------------------------


def _lock(pks: Sequence[int]) -> dict[int, Customer]:
    return {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=pks).order_by("pk")}


@transaction.atomic
def merge_customers(
    *,
    survivor: Customer,
    absorbed: Sequence[Customer],
    reason: str,
    detail: dict | None = None,
    actor=None,
) -> list[Merge]:
    """Absorb ``absorbed`` profiles into ``survivor``; one ``Merge`` row each."""
    ids = [c.pk for c in absorbed]
    if not ids:
        return []
    if survivor.pk in ids or len(set(ids)) != len(ids):
        raise MergeError("invalid_merge", "a profile cannot be merged into itself")
    locked = _lock([survivor.pk, *ids])
    if any(c.merged_into_id is not None for c in locked.values()):
        raise MergeError("already_merged", "one of these profiles was merged already")
    survivor = locked[survivor.pk]
    ranks = _source_ranks()
    merges = []
    for pk in ids:
        other = locked[pk]
        moved: dict[str, list] = {}
        kept: dict[str, list] = {}
        for relation in customer_relations():
            moved_pks, kept_pks = _move_rows(relation, source=other, target=survivor)
            if moved_pks:
                moved[relation.label] = moved_pks
            if kept_pks:
                kept[relation.label] = kept_pks
        changes = _combine(survivor, other, ranks)
        other.merged_into = survivor
        other.save(update_fields=["merged_into", "updated_at"])
        merges.append(
            Merge.objects.create(
                survivor=survivor,
                absorbed=other,
                reason=reason,
                detail=detail or {},
                actor=actor,
                moved=moved,
                kept=kept,
                changes=changes,
            )
        )
        emit(
            topic=OutboxEntry.Topic.PROFILE_MERGED,
            customer=survivor,
            payload={"customer_id": survivor.pk, "absorbed_id": other.pk, "reason": reason},
        )
    survivor.save()
    return merges


def _restore(customer: Customer, key: str, change: dict) -> bool:
    """Put back one value the merge changed, unless it changed again since."""
    if key.startswith("traits."):
        name = key.removeprefix("traits.")
        current = customer.traits.get(name)
    else:
        field = Customer._meta.get_field(key)
        current = getattr(customer, key)
    if _jsonable(current) != change["after"]:
        return False
    if key.startswith("traits."):
        traits = dict(customer.traits)
        if change["before"] is None:
            traits.pop(name, None)
        else:
            traits[name] = change["before"]
        customer.traits = traits
    else:
        before = change["before"]
        setattr(customer, key, field.to_python(before) if before is not None else None)
    if "before_provenance" in change:
        provenance = dict(customer.trait_provenance)
        if provenance.get(key) == change["after_provenance"]:
            if change["before_provenance"] is None:
                provenance.pop(key, None)
            else:
                provenance[key] = change["before_provenance"]
        customer.trait_provenance = provenance
    return True


@transaction.atomic
def unmerge(*, merge: Merge, actor=None) -> Customer:
    """Split the absorbed profile back out, as it was before ``merge``.

    Rows the merge moved go back; values it changed on the survivor are
    restored unless they changed again since. What arrived since the merge
    stays with the survivor. Returns the restored profile.
    """
    merge = Merge.objects.select_for_update().get(pk=merge.pk)
    if merge.undone_at is not None:
        raise MergeError("already_undone", "this merge was undone already")
    locked = _lock([merge.survivor_id, merge.absorbed_id])
    survivor, absorbed = locked[merge.survivor_id], locked[merge.absorbed_id]
    if survivor.merged_into_id is not None:
        raise MergeError(
            "survivor_merged_since",
            f"#{survivor.pk} was merged into #{survivor.merged_into_id} since; undo that first",
        )
    if absorbed.merged_into_id != survivor.pk:
        raise MergeError("not_merged", f"#{absorbed.pk} is not merged into #{survivor.pk}")
    relations = {relation.label: relation for relation in customer_relations()}
    for label, pks in merge.moved.items():
        relation = relations.get(label)
        if relation is None:
            continue
        manager = relation.model._base_manager
        for start in range(0, len(pks), _CHUNK):
            manager.filter(pk__in=pks[start : start + _CHUNK], **{relation.field: survivor}).update(
                **{relation.field: absorbed}
            )
    for key, change in merge.changes.items():
        _restore(survivor, key, change)
    survivor.save()
    absorbed.merged_into = None
    absorbed.save(update_fields=["merged_into", "updated_at"])
    merge.undone_at = timezone.now()
    merge.undone_by = actor
    merge.save(update_fields=["undone_at", "undone_by"])
    emit(
        topic=OutboxEntry.Topic.PROFILE_UNMERGED,
        customer=absorbed,
        payload={"customer_id": absorbed.pk, "survivor_id": survivor.pk, "merge_id": merge.pk},
    )
    return absorbed


def merge_manually(*, customer_ids: Sequence[int], actor=None) -> list[Merge]:
    """Merge profiles a person picked (admin action): survivor by the usual rule."""
    customers = list(Customer.objects.filter(pk__in=set(customer_ids)).order_by("pk"))
    if len(customers) < 2:
        raise MergeError("too_few", "pick at least two profiles to merge")
    if any(c.merged_into_id is not None for c in customers):
        raise MergeError("already_merged", "one of these profiles was merged already")
    survivor = choose_survivor(customers)
    others = [c for c in customers if c.pk != survivor.pk]
    actor_name = getattr(actor, "get_username", lambda: "")()
    return merge_customers(
        survivor=survivor,
        absorbed=others,
        reason=Merge.Reason.MANUAL,
        detail={"by": actor_name},
        actor=actor,
    )
