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

Profile values combine per core field and per trait by the one precedence
rule (``customers.services.precedence``: ranked source, then lower rank,
then the later time); an empty value never overwrites a filled one.
Provenance travels with the winning value.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, models, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.permissions import require_permissions
from accounts.roles import MERGE_PROFILES
from core.db.copy import insert_history, insert_rows, insert_values, update_values
from core.db.sets import create_copied_table, drop_tables
from core.errors import DomainError
from core.models import OutboxEntry
from core.outbox import emit
from customers.models import (
    CORE_FIELDS,
    Customer,
    DuplicateSuggestion,
    Merge,
)
from customers.services.precedence import replaces, source_ranks
from customers.services.versions import bump_versions, bump_versions_selected, mark_bumped

_CHUNK = 5000
# ProfileStamp: each profile's own counter; moving it would move a document
# version down again on unmerge (``customers.services.versions``)
# Rows that stay with the profile they name: the merge machinery, stamps
# (moved there and back, a document version could go down) and the outbox
# (what was emitted stays as emitted). By model, not by name: the outbox
# lives in ``core`` since issue 18, and a name check on ``customers`` had
# stopped excluding it.
_SELF_MODELS = ("Merge", "DuplicateSuggestion", "Customer", "ProfileStamp")


class MergeError(DomainError):
    kind = "conflict"


def survivor_rank(is_identified: bool, first_seen: datetime, pk: int) -> tuple:
    """The survivor rule as a sort key: the smallest wins."""
    return (not is_identified, first_seen, pk)


def choose_survivor(customers: Sequence[Customer]) -> Customer:
    return min(customers, key=lambda c: survivor_rank(c.is_identified, c.first_seen, c.pk))


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
        if model is OutboxEntry or (
            model._meta.app_label == "customers" and model.__name__ in _SELF_MODELS
        ):
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


# One ``merge_groups`` call's mapping on PostgreSQL: a temporary table of every
# profile involved, ``survivor_id`` naming the survivor of an absorbed one
# (NULL for a survivor). Related rows are re-pointed by one ``UPDATE … FROM``
# per table instead of ``CASE`` chunks whose ids travel as bound parameters.
_TARGET = "merge_target"
_ABSORBED = f"SELECT customer_id FROM {_TARGET} WHERE survivor_id IS NOT NULL"  # noqa: S608
_SURVIVORS = f"SELECT customer_id FROM {_TARGET} WHERE survivor_id IS NULL"  # noqa: S608
_INVOLVED = f"SELECT customer_id FROM {_TARGET}"  # noqa: S608


def _set_based() -> bool:
    """Merges by statements over the mapping table (PostgreSQL), else by id chunks."""
    return connection.vendor == "postgresql"


def _owned_by(manager, attname: str, ids: list[int], select: str) -> Iterator[models.QuerySet]:
    """Queries over the rows owned by ``ids``: on PostgreSQL one, by the
    mapping table's ``select``; elsewhere one per chunk of ids."""
    if _set_based():
        yield manager.filter(**{f"{attname}__in": RawSQL(select, ())})  # noqa: S611 - our constants
        return
    for chunk in _chunks(ids):
        yield manager.filter(**{f"{attname}__in": chunk})


def _move_rows(relation: _Relation, *, target: dict[int, int], moved: dict, kept: dict) -> None:
    """Re-point the rows of every absorbed profile (``target``: absorbed → survivor).

    Records the moved and kept primary keys per absorbed profile in ``moved``
    and ``kept`` (``{absorbed: {relation label: [pk, ...]}}``, in pk order).
    """
    manager = relation.model._base_manager
    attname = relation.model._meta.get_field(relation.field).attname
    absorbed_ids = list(target)
    rows: list[tuple] = []
    if not _set_based():
        for query in _owned_by(manager, attname, absorbed_ids, _ABSORBED):
            rows += query.values_list("pk", attname)
        if not rows:
            return
    kept_owner: dict = {}  # pk -> absorbed profile
    order = {pk: position for position, pk in enumerate(absorbed_ids)}
    for others, condition in _unique_sets(relation):
        candidates: list[tuple] = []
        for query in _owned_by(manager, attname, absorbed_ids, _ABSORBED):
            if condition is not None:
                query = query.filter(condition)
            candidates += query.values_list("pk", attname, *others)
        if not candidates:
            continue
        held: dict[int, set] = {}
        for query in _owned_by(manager, attname, list(set(target.values())), _SURVIVORS):
            if condition is not None:
                query = query.filter(condition)
            for owner, *values in query.values_list(attname, *others):
                held.setdefault(owner, set()).add(tuple(values))
        for pk, owner, *values in sorted(candidates, key=lambda row: (order[row[1]], row[0])):
            taken = held.setdefault(target[owner], set())
            if tuple(values) in taken:
                kept_owner[pk] = owner
            else:
                taken.add(tuple(values))
    if _set_based():
        rows = _repoint_mapped(relation.model, attname, keep=list(kept_owner))
    else:
        _repoint(relation.model, attname, {a: target[a] for a in absorbed_ids}, set(kept_owner))
        rows = [(pk, owner) for pk, owner in rows if pk not in kept_owner]
    for bucket, pairs in ((moved, rows), (kept, kept_owner.items())):
        for pk, owner in sorted(pairs):
            bucket.setdefault(owner, {}).setdefault(relation.label, []).append(pk)


def _repoint_mapped(model: type[models.Model], column: str, *, keep: list) -> list[tuple]:
    """PostgreSQL: re-point ``column`` from each absorbed profile to its
    survivor by the mapping table, except the rows ``keep``; returns the
    (pk, absorbed id) of every row moved."""
    quote = connection.ops.quote_name
    table, quoted, pk = (
        quote(model._meta.db_table),
        quote(column),
        quote(model._meta.pk.column),
    )
    sql = (
        f"UPDATE {table} SET {quoted} = m.survivor_id FROM {_TARGET} AS m "  # noqa: S608 - names from model meta
        f"WHERE {table}.{quoted} = m.customer_id AND m.survivor_id IS NOT NULL"
    )
    params: list = []
    if keep:
        sql += f" AND {table}.{pk} <> ALL(%s)"
        params.append(keep)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {table}.{pk}, m.customer_id", params)
        return cursor.fetchall()


def _repoint(
    model: type[models.Model], column: str, mapping: dict[int, int], keep: set, *, key: str = ""
) -> None:
    """``UPDATE … SET column = CASE key WHEN old THEN new … END`` in chunks
    (``key`` defaults to ``column``: re-point rows from one owner to another).

    Plain SQL that SQLite and PostgreSQL both run; the ORM's Case/When costs
    milliseconds per branch to compile, which matters for thousands of merges.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    quoted = connection.ops.quote_name(column)
    match = connection.ops.quote_name(key or column)
    pk = connection.ops.quote_name(model._meta.pk.column)
    keep_list = list(keep)
    with connection.cursor() as cursor:
        for chunk in _chunks(list(mapping), 500):
            whens = " ".join(["WHEN %s THEN %s"] * len(chunk))
            marks = ", ".join(["%s"] * len(chunk))
            sql = (
                f"UPDATE {table} SET {quoted} = CASE {match} {whens} END WHERE {match} IN ({marks})"  # noqa: S608 - names from model meta, values bound
            )
            params: list = [value for old in chunk for value in (old, mapping[old])] + chunk
            if keep_list:
                sql += f" AND {pk} NOT IN ({', '.join(['%s'] * len(keep_list))})"
                params += keep_list
            cursor.execute(sql, params)


def save_fields(rows: Sequence[tuple[models.Model, Sequence[str]]]) -> None:
    """Write the named fields of many rows: one ``core.db.copy.update_values``
    per distinct field list (COPY and one ``UPDATE … FROM`` on PostgreSQL, an
    ``executemany`` elsewhere; unlike ``bulk_update``'s CASE)."""
    by_fields: dict[tuple[str, ...], list[models.Model]] = {}
    for obj, names in rows:
        by_fields.setdefault(tuple(names), []).append(obj)
    for names, objs in by_fields.items():
        meta = objs[0]._meta
        attnames = [meta.pk.attname, *(meta.get_field(name).attname for name in names)]
        update_values(
            type(objs[0]), attnames, [[getattr(obj, a) for a in attnames] for obj in objs]
        )


def _chunks(items: list, size: int = _CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- values and provenance ---------------------------------------------------------


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
        wins = replaces(new_prov, provenance.get(key), ranks, on_tie=False)
        if held not in ("", None) and not wins:
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
    locked: dict[int, Customer] = {}
    for chunk in _chunks(sorted(pks)):
        locked.update(
            (c.pk, c)
            for c in Customer.objects.select_for_update().filter(pk__in=chunk).order_by("pk")
        )
    return locked


def _lock_mapped() -> dict[int, Customer]:
    """PostgreSQL: lock every profile of the mapping table (ids only, in id
    order as ``_lock`` and ``bump_versions`` do), then read them."""
    table = connection.ops.quote_name(Customer._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {table} WHERE id IN ({_INVOLVED}) ORDER BY id FOR UPDATE"  # noqa: S608
        )
        if not cursor.fetchall():
            return {}
    return {c.pk: c for c in Customer.objects.filter(pk__in=RawSQL(_INVOLVED, ()))}  # noqa: S611


def _write_profiles_mapped(survivors: list[Customer], *, unchanged: list[int], now) -> None:
    """PostgreSQL: write each profile of the mapping table once, its version
    bump included (a profile row rewrites every index, the trigram one too):
    absorbed ones point at their survivor; survivors whose values changed get
    every value (the rows are locked and were read in this transaction, so the
    others are as stored); the rest only move their version."""
    table = connection.ops.quote_name(Customer._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET merged_into_id = m.survivor_id, updated_at = %s, "  # noqa: S608
            f"version = {table}.version + 1 FROM {_TARGET} AS m "
            f"WHERE {table}.id = m.customer_id AND m.survivor_id IS NOT NULL",
            [now],
        )
    attnames = ["id", *(Customer._meta.get_field(name).attname for name in _SURVIVOR_FIELDS)]
    update_values(
        Customer,
        attnames,
        [[getattr(c, a) for a in attnames] for c in survivors],
        increment=["version"],
    )
    if unchanged:
        bump_versions_selected(
            select=f"{_SURVIVORS} AND customer_id = ANY(%s)",
            params=[unchanged],
        )


_SURVIVOR_FIELDS = [
    *CORE_FIELDS,
    "traits",
    "trait_provenance",
    "first_seen",
    "last_seen",
    "is_identified",
    "updated_at",
]


@transaction.atomic
def merge_groups(
    *,
    groups: Sequence[tuple[int, Sequence[int]]],
    reason: str,
    details: dict[int, dict] | None = None,
    actor=None,
) -> list[Merge]:
    """Merge many groups at once: ``(survivor id, [absorbed ids])`` each.

    Set-based (a few queries per related table, not per profile), so that
    duplicate detection can merge thousands of pairs quickly; one ``Merge``
    row per absorbed profile, ``details`` per absorbed id. A person as
    ``actor`` needs the merge permissions (``accounts.roles.MERGE_PROFILES``).
    """
    require_permissions(actor, *MERGE_PROFILES, what="merge profiles")
    target = {absorbed: survivor for survivor, members in groups for absorbed in members}
    survivors = [survivor for survivor, _ in groups]
    if len(target) != sum(len(m) for _, m in groups) or set(target) & set(survivors):
        raise MergeError("invalid_merge", "a profile cannot be merged into itself or twice")
    if not target:
        return []
    if _set_based():
        with connection.cursor() as cursor:
            create_copied_table(
                cursor,
                _TARGET,
                [("customer_id", "bigint"), ("survivor_id", "bigint")],
                [
                    *((pk, None) for pk in dict.fromkeys(survivors)),
                    *target.items(),
                ],
            )
        locked = _lock_mapped()
    else:
        locked = _lock([*survivors, *target])
    if len(locked) != len(set(survivors) | set(target)) or any(
        c.merged_into_id is not None for c in locked.values()
    ):
        raise MergeError("already_merged", "one of these profiles was merged already")
    moved: dict[int, dict] = {}
    kept: dict[int, dict] = {}
    for relation in customer_relations():
        _move_rows(relation, target=target, moved=moved, kept=kept)
    ranks = source_ranks()
    now = timezone.now()
    merges: list[Merge] = []
    changed: dict[int, set[str]] = {}
    for survivor_id, members in groups:
        survivor = locked[survivor_id]
        changed[survivor_id] = set()
        for absorbed_id in members:
            other = locked[absorbed_id]
            changes = _combine(survivor, other, ranks)
            changed[survivor_id].update(
                key if key in _SURVIVOR_FIELDS else "traits" for key in changes
            )
            other.merged_into_id, other.updated_at = survivor_id, now
            merges.append(
                Merge(
                    survivor_id=survivor_id,
                    absorbed_id=absorbed_id,
                    reason=reason,
                    detail=(details or {}).get(absorbed_id, {}),
                    actor=actor,
                    moved=moved.get(absorbed_id, {}),
                    kept=kept.get(absorbed_id, {}),
                    changes=changes,
                    created_at=now,
                )
            )
        survivor.updated_at = now
        if changed[survivor_id]:
            changed[survivor_id].update({"trait_provenance", "updated_at"})
    if _set_based():
        _write_profiles_mapped(
            [locked[pk] for pk in survivors if changed[pk]],
            unchanged=[pk for pk in survivors if not changed[pk]],
            now=now,
        )
        mark_bumped([*survivors, *target])  # an enclosing ``bumped_once`` need not again
        with connection.cursor() as cursor:
            drop_tables(cursor, _TARGET)
    else:
        _repoint(Customer, "merged_into_id", target, set(), key="id")
        for chunk in _chunks(list(target)):
            Customer.objects.filter(pk__in=chunk).update(updated_at=now)
        save_fields([(locked[pk], sorted(changed[pk])) for pk in survivors if changed[pk]])
    # History rows for the survivors, whose values changed; an absorbed
    # profile's only change (merged_into) is recorded in full by the Merge row.
    # (COPY on PostgreSQL: bulk_create's UNNEST arrays are quoted in Python,
    # value by value, and the merge log's JSON is most of the bytes)
    insert_history(Customer, [locked[pk] for pk in survivors if changed[pk]], update=True)
    insert_rows(Merge, merges, set_pks=True)
    if not _set_based():
        bump_versions([*survivors, *target])
    # plain values, not thousands of model instances
    insert_values(
        OutboxEntry,
        ("topic", "customer_id", "payload", "created_at"),
        [
            (
                OutboxEntry.Topic.PROFILE_MERGED,
                m.survivor_id,
                {"customer_id": m.survivor_id, "absorbed_id": m.absorbed_id, "reason": reason},
                now,
            )
            for m in merges
        ],
    )
    return merges


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
    if survivor.pk in ids or len(set(ids)) != len(ids):
        raise MergeError("invalid_merge", "a profile cannot be merged into itself")
    return merge_groups(
        groups=[(survivor.pk, ids)],
        reason=reason,
        details=dict.fromkeys(ids, detail or {}),
        actor=actor,
    )


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


def _remember_distinct(first: int, second: int, actor) -> None:
    """An undone merge means two people: duplicate detection must not re-merge them."""
    a, b = sorted((first, second))
    DuplicateSuggestion.objects.update_or_create(
        customer_a_id=a,
        customer_b_id=b,
        defaults={"status": "distinct", "decided_at": timezone.now(), "decided_by": actor},
        create_defaults={
            "status": "distinct",
            "decided_at": timezone.now(),
            "decided_by": actor,
            "score": 0.0,
        },
    )


@transaction.atomic
def unmerge(*, merge: Merge, actor=None) -> Customer:
    """Split the absorbed profile back out, as it was before ``merge``.

    Rows the merge moved go back; values it changed on the survivor are
    restored unless they changed again since. What arrived since the merge
    stays with the survivor. The pair is remembered as two people, so
    duplicate detection never suggests it again. Returns the restored profile.
    A person as ``actor`` needs ``customers.change_merge``.
    """
    require_permissions(actor, "customers.change_merge", what="undo merges")
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
    _remember_distinct(merge.survivor_id, merge.absorbed_id, actor)
    merge.undone_at = timezone.now()
    merge.undone_by = actor
    merge.save(update_fields=["undone_at", "undone_by"])
    bump_versions([survivor.pk, absorbed.pk])  # traits and identities went back
    emit(
        topic=OutboxEntry.Topic.PROFILE_UNMERGED,
        customer=absorbed,
        payload={"customer_id": absorbed.pk, "survivor_id": survivor.pk, "merge_id": merge.pk},
    )
    return absorbed


@dataclass(frozen=True)
class MergePreview:
    """What a merge by hand would make, computed without writing anything.

    ``result`` is an unsaved copy of the survivor holding the combined values
    (the rule of ``merge_customers``); ``changes`` what the merge would change
    on the survivor, as the merge log records it.
    """

    survivor: Customer
    absorbed: list[Customer]
    result: Customer
    changes: dict[str, dict]


def _picked(customer_ids: Sequence[int], actor, survivor_id: int | None):
    """The checks of a merge by hand; returns (survivor, others)."""
    if actor is None:
        raise PermissionDenied("Merging by hand needs a person with the merge permission.")
    require_permissions(actor, *MERGE_PROFILES, what="merge profiles")
    cap = settings.TRIBUTARY_MAX_MERGE_PROFILES
    if len(set(customer_ids)) > cap:
        raise MergeError(
            "too_many",
            f"at most {cap} profiles can be merged at once (TRIBUTARY_MAX_MERGE_PROFILES); "
            f"{len(set(customer_ids))} were picked, nothing was merged",
        )
    customers = list(Customer.objects.filter(pk__in=set(customer_ids)).order_by("pk"))
    if len(customers) < 2:
        raise MergeError("too_few", "pick at least two profiles to merge")
    if any(c.merged_into_id is not None for c in customers):
        raise MergeError("already_merged", "one of these profiles was merged already")
    if survivor_id is None:
        survivor = choose_survivor(customers)
    else:
        survivor = next((c for c in customers if c.pk == survivor_id), None)
        if survivor is None:
            raise MergeError("invalid_survivor", "the profile kept must be one of those picked")
    return survivor, [c for c in customers if c.pk != survivor.pk]


def preview_manual_merge(
    *, customer_ids: Sequence[int], actor, survivor_id: int | None = None
) -> MergePreview:
    """The profile ``merge_manually`` would leave, for the confirmation page
    (same checks: permission, cap, profiles still separate)."""
    survivor, others = _picked(customer_ids, actor, survivor_id)
    result = Customer.objects.get(pk=survivor.pk)  # a copy to combine into
    ranks = source_ranks()
    changes: dict[str, dict] = {}
    for other in others:
        for key, change in _combine(result, other, ranks).items():
            changes[key] = {**change, "before": changes.get(key, change)["before"]}
    return MergePreview(survivor=survivor, absorbed=others, result=result, changes=changes)


def merge_manually(
    *, customer_ids: Sequence[int], actor, survivor_id: int | None = None
) -> list[Merge]:
    """Merge profiles a person picked (admin action) into ``survivor_id``, or
    the one the usual rule picks.

    Only a data steward or a superuser (``MERGE_PROFILES``) may, and at most
    ``TRIBUTARY_MAX_MERGE_PROFILES`` profiles at once; otherwise nothing is
    merged (``PermissionDenied`` / ``MergeError("too_many")``).
    """
    survivor, others = _picked(customer_ids, actor, survivor_id)
    actor_name = getattr(actor, "get_username", lambda: "")()
    return merge_customers(
        survivor=survivor,
        absorbed=others,
        reason=Merge.Reason.MANUAL,
        detail={"by": actor_name},
        actor=actor,
    )
