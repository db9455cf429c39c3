"""Which of a call's identifiers may link it to a profile: conflicts and shared values.

Two rules, applied before the identity plan (``customers.services.identity``)
and by nothing else:

- **Conflicting identifiers.** An identifier never attaches a call to, or
  merges, the profile that holds it when the call also carries a
  higher-priority identifier (a lower ``IdentifierType.priority``) of a
  type that profile holds, and none of the profile's values of that type
  is equal: a new email with a known phone is somebody else who shares the
  phone. The identifier stays with its profile; the call goes elsewhere
  (usually a new profile, keeping the value as data), and a
  ``conflicting_identifier`` data-quality issue names both values.
- **Shared values.** Each such conflict is a sighting: the value was seen
  with another value of a higher-priority type (``SharedValue.companions``).
  Once it has been seen with ``shared_after`` distinct values of one type,
  the value is *shared*: it links nothing any more (it is neither matched
  nor attached) and stewards see it in the shared-values list, where they
  unflag it (it links again and is not flagged again) or block it.

Probabilistic duplicate merges (``customers.services.duplicates``) and
merges by hand do not go through here. The batched pipeline asks
``contested`` which groups of calls these rules could touch and sends those
through the one-at-a-time plan, so batches and single calls agree.

The callers hold the identifier locks (``identity.lock_identifiers``) of
every value here, so the sightings of one value are written one at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.permissions import require_permissions
from core.db.lookups import AnyOf
from customers.models import IdentifierType, Identity, SharedValue
from customers.services.normalize import Issue

CONFLICT = "conflicting_identifier"
# held: per customer id, per identifier type id, the values it holds
Held = dict[int, dict[int, set[str]]]


@dataclass(frozen=True)
class _Sighting:
    identifier_type: IdentifierType
    value: str
    owner: int
    companion_type: IdentifierType
    call_value: str  # the call's value of companion_type
    companion_values: frozenset[str]  # the profile's values and the call's


def digest(type_name: str, value: str) -> str:
    """How a companion value is kept: enough to count distinct values, not to read them."""
    return hashlib.sha256(f"{type_name}:{value}".encode()).hexdigest()[:20]


def _flags(pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], SharedValue]:
    """The rows of these (type id, value) pairs (one query, one condition per type)."""
    by_type: dict[int, set[str]] = {}
    for type_id, value in pairs:
        by_type.setdefault(type_id, set()).add(value)
    query = Q(pk__in=[])
    for type_id, values in by_type.items():
        query |= Q(type_id=type_id) & AnyOf("value", values)
    rows = SharedValue.objects.filter(query) if by_type else ()
    return {(row.type_id, row.value): row for row in rows}


def linkable(
    *,
    identifiers: Sequence[tuple[IdentifierType, str]],
    owners: dict[tuple[int, str], int],
    held: Held,
) -> tuple[list[tuple[IdentifierType, str]], list[Issue]]:
    """The identifiers that may link this call, and the issues of those that may not.

    ``owners``: (type id, value) → the profile holding it; ``held``: what
    each of those profiles holds. Shared values are left out silently (they
    are listed for stewards); conflicting ones with an issue the first time
    a value is seen with each other value. Records the sightings.
    """
    flags = _flags((t.pk, v) for t, v in identifiers)
    kept: list[tuple[IdentifierType, str]] = []
    sightings: list[_Sighting] = []
    for identifier_type, value in identifiers:
        flag = flags.get((identifier_type.pk, value))
        if flag is not None and flag.status == SharedValue.Status.SHARED:
            continue
        owner = owners.get((identifier_type.pk, value))
        clash = _clash(identifier_type, identifiers, held.get(owner, {})) if owner else None
        if clash is None:
            kept.append((identifier_type, value))
            continue
        companion_type, companion_value = clash
        theirs = held[owner][companion_type.pk]
        sightings.append(
            _Sighting(
                identifier_type,
                value,
                owner,
                companion_type,
                companion_value,
                frozenset({*theirs, companion_value}),
            )
        )
    issues = [
        Issue(
            s.identifier_type.name,
            s.value,
            CONFLICT,
            f"{s.identifier_type.name} {s.value!r} not used: it is profile #{s.owner}'s, "
            f"which holds another {s.companion_type.name} than {s.call_value!r}",
        )
        for s in _record(sightings, flags)
    ]
    return kept, issues


def _clash(identifier_type, identifiers, theirs: dict[int, set[str]]):
    """The first higher-priority identifier of the call whose type the owner
    holds with no equal value, or None."""
    for other_type, other_value in sorted(identifiers, key=lambda pair: pair[0].priority):
        if other_type.priority >= identifier_type.priority:
            return None
        values = theirs.get(other_type.pk)
        if values and other_value not in values:
            return other_type, other_value
    return None


def _record(sightings: list[_Sighting], flags) -> list[_Sighting]:
    """Store the sightings; returns those whose call value is new, which get an issue."""
    if not sightings:
        return []
    now = timezone.now()
    new: list[_Sighting] = []
    for sighting in sightings:
        identifier_type = sighting.identifier_type
        row = flags.get((identifier_type.pk, sighting.value))
        if row is None:
            row = SharedValue(type=identifier_type, value=sighting.value, first_seen=now)
        name = sighting.companion_type.name
        before = set(row.companions.get(name, []))
        after = before | {digest(name, v) for v in sighting.companion_values}
        if after == before:
            continue
        if digest(name, sighting.call_value) not in before:
            new.append(sighting)
        row.companions = {**row.companions, name: sorted(after)}
        row.seen_with = max(len(values) for values in row.companions.values())
        if row.status == SharedValue.Status.WATCHED and (
            row.seen_with >= identifier_type.shared_after
        ):
            row.status = SharedValue.Status.SHARED
            row.flagged_at = now
        row.save()
    return new


def contested(
    *,
    groups: Sequence[Sequence[tuple[str, str]]],
    owners: dict[tuple[str, str], int],
    types: dict[str, IdentifierType] | None = None,
) -> set[int]:
    """Indexes of the groups of calls (their (type name, value) pairs) these
    rules could touch, for the batched pipeline to plan one call at a time.

    A group is contested when one of its values is flagged (shared or
    blocked), or when a type it carries has several values among the
    group's and its known profiles' (those it reaches while bringing a new
    value) and the group carries an identifier of a lower priority. The
    others cannot meet a conflict, so they give the same profiles planned
    together as one at a time.
    """
    if types is None:  # the batched pipeline passes the ones it has read
        types = {t.name: t for t in IdentifierType.objects.all()}
    pairs = {p for group in groups for p in group if p[0] in types}
    flagged = {
        (row.type_id, row.value)
        for row in _flags((types[t].pk, v) for t, v in pairs).values()
        if row.status in (SharedValue.Status.SHARED, SharedValue.Status.BLOCKED)
    }
    reaching = {  # profiles a group reaches while it also brings a new value
        owners[p]
        for group in groups
        if any(q not in owners for q in group)
        for p in group
        if p in owners
    }
    held: dict[int, set[tuple[str, str]]] = {}
    rows = (
        Identity.objects.filter(AnyOf("customer_id", reaching))
        .order_by()
        .values_list("customer_id", "type__name", "value")
    )
    for customer_id, type_name, value in rows:
        held.setdefault(customer_id, set()).add((type_name, value))
    result: set[int] = set()
    for index, group in enumerate(groups):
        known = [p for p in group if p[0] in types]
        if any((types[t].pk, v) in flagged for t, v in known):
            result.add(index)
            continue
        everything = set(known)
        for customer_id in {owners[p] for p in known if p in owners}:
            everything |= held.get(customer_id, set())
        values: dict[str, set[str]] = {}
        for type_name, value in everything:
            values.setdefault(type_name, set()).add(value)
        carried = {t for t, _ in known}
        lowest = max((types[t].priority for t in carried), default=0)
        if any(len(values[t]) > 1 and types[t].priority < lowest for t in carried):
            result.add(index)
    return result


# --- what stewards do with the list -----------------------------------------------


@transaction.atomic
def unflag(*, shared_values: Iterable[SharedValue], actor) -> int:
    """These values link again and are not flagged again. Returns how many changed."""
    require_permissions(actor, "customers.change_sharedvalue", what="unflag shared values")
    changed = 0
    for row in shared_values:
        if row.status in (SharedValue.Status.SHARED, SharedValue.Status.WATCHED):
            row.status = SharedValue.Status.UNFLAGGED
            row.save(update_fields=["status"])
            changed += 1
    return changed


@transaction.atomic
def block(*, shared_values: Iterable[SharedValue], actor) -> int:
    """These values are never used as identifiers again (the type's blocked
    values, which every way in screens out). Returns how many changed."""
    require_permissions(
        actor,
        "customers.change_sharedvalue",
        "customers.change_identifiertype",
        what="block shared values",
    )
    changed = 0
    for row in shared_values:
        if row.status == SharedValue.Status.BLOCKED:
            continue
        identifier_type = IdentifierType.objects.select_for_update().get(pk=row.type_id)
        if row.value.lower() not in {str(v).lower() for v in identifier_type.blocked_values}:
            identifier_type.blocked_values = [*identifier_type.blocked_values, row.value]
            identifier_type.save(update_fields=["blocked_values"])
        row.status = SharedValue.Status.BLOCKED
        row.save(update_fields=["status"])
        changed += 1
    return changed


def forget(*, owned: Iterable[tuple[str, str]], known: Iterable[tuple[str, str]]) -> int:
    """Erasure: the rows (and history) of the values the person ``owned``
    (their identities) go; the digests of every value they were ``known``
    by leave the other rows. Returns the rows removed or rewritten."""
    removed = 0
    for type_name, value in set(owned):
        rows = SharedValue.objects.filter(type__name=type_name, value=value)
        removed += rows.delete()[0]
        removed += SharedValue.history.filter(type__name=type_name, value=value).delete()[0]
    gone = {digest(t, v) for t, v in known}
    for row in SharedValue.objects.exclude(companions={}):
        kept = {name: [d for d in ds if d not in gone] for name, ds in row.companions.items()}
        if kept != row.companions:
            row.companions = {name: ds for name, ds in kept.items() if ds}
            row.seen_with = max((len(ds) for ds in row.companions.values()), default=0)
            row.save(update_fields=["companions", "seen_with"])
            removed += 1
    return removed
