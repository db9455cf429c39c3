"""Identity resolution: which profile does a set of identifiers belong to?

Rules per identifier type (``IdentifierType``, editable in the admin):

- **blocked values** are never used as identifiers (recorded as an issue);
- **priority**: identifiers are considered from the most trusted (lowest
  number) down;
- **per-profile limit**: when attaching an identifier, or merging the
  profile it belongs to, would give one profile more values of a type than
  its ``max_per_profile``, that identifier is not used for this message and
  the conflict is recorded — as Segment does. Since identifiers are taken
  in priority order, it is always the least trusted conflicting one that
  is dropped;
- **merges**: an identifier of a type with ``merges`` off may attach to the
  profile the message resolves to, but never pulls a second existing
  profile into a merge;
- at most ``settings.TRIBUTARY_MAX_MERGE_PROFILES`` existing profiles are
  absorbed by one message (no "mega profiles").

No match creates a profile, one attaches, several merge (see
``customers.services.merging`` for the survivor rule and the merge log).

Concurrency: ``lock_identifiers`` takes PostgreSQL transaction-level
advisory locks (``core.db.locks``, namespace ``identity``) on hashes of the
normalized identifiers, in sorted order, so
two workers handling the same new person serialise instead of creating two
profiles, and never deadlock on each other's identifiers. SQLite serialises
writers already (transactions start IMMEDIATE).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from core.db.locks import lock, lock_key, try_lock
from core.outbox import Topic, emit
from customers.models import Customer, IdentifierType, Identity, Merge
from customers.services.merging import choose_survivor, merge_customers
from customers.services.normalize import Issue
from customers.services.quality import record_issues
from customers.services.shared_values import linkable
from customers.services.versions import bump_versions

ANONYMOUS_TYPES = frozenset({"anonymous_id"})
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resolution:
    customer: Customer
    created: bool
    absorbed_ids: tuple[int, ...] = ()
    new_identities: tuple[str, ...] = field(default=())
    conflicts: tuple[Issue, ...] = ()


def identifier_types() -> dict[str, IdentifierType]:
    return {t.name: t for t in IdentifierType.objects.all()}


def screen_identifiers(
    *, identifiers: Iterable[tuple[str, str]], types: dict[str, IdentifierType] | None = None
) -> tuple[list[tuple[str, str]], list[Issue]]:
    """Drop identifiers of unknown types and blocked values; report each."""
    types = identifier_types() if types is None else types
    kept: list[tuple[str, str]] = []
    issues: list[Issue] = []
    for name, value in identifiers:
        identifier_type = types.get(name)
        if identifier_type is None:
            issues.append(
                Issue(name, value, "unknown_identifier_type", f"{name} is not an identifier type")
            )
        elif value.lower() in {str(v).lower() for v in identifier_type.blocked_values}:
            issues.append(
                Issue(name, value, "blocked_identifier", f"{value!r} is blocked for {name}")
            )
        elif (name, value) not in kept:
            kept.append((name, value))
    return kept, issues


IDENTITY_LOCKS = "identity"  # the advisory-lock namespace of identifiers


def identifier_lock_key(type_name: str, value: str) -> int:
    return lock_key(IDENTITY_LOCKS, f"{type_name}:{value}")


def lock_identifiers(identifiers: Iterable[tuple[str, str]]) -> None:
    """Serialise work on these identifiers until the transaction ends (PostgreSQL).

    Batch callers should lock every identifier of the batch at once, before
    resolving any message, so that locks are always taken in one order.
    """
    lock(IDENTITY_LOCKS, (f"{t}:{v}" for t, v in identifiers))


def try_lock_identifiers(identifiers: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Lock these identifiers without waiting (PostgreSQL); returns those
    another transaction holds, which this one does not get."""
    by_name = {f"{t}:{v}": (t, v) for t, v in identifiers}
    return {by_name[name] for name in try_lock(IDENTITY_LOCKS, by_name)}


def _owners(wanted: list[tuple[IdentifierType, str]]) -> dict[tuple[int, str], int]:
    query = Q(pk__in=[])
    for identifier_type, value in wanted:
        query |= Q(type=identifier_type, value=value)
    return {
        (type_id, value): customer_id
        for type_id, value, customer_id in Identity.objects.filter(query).values_list(
            "type_id", "value", "customer_id"
        )
    }


def _lock_owners(wanted: list[tuple[IdentifierType, str]]) -> dict[tuple[int, str], int]:
    """Owners of these identifiers, with their rows locked and none merged away.

    A concurrent merge may absorb an owner between reading the identities and
    locking it; then its identities have moved, so read them again.
    """
    for _attempt in range(10):
        owners = _owners(wanted)
        rows = (
            Customer.objects.select_for_update()
            .filter(pk__in=set(owners.values()))
            .order_by("pk")
            .values_list("merged_into_id", flat=True)
        )
        if all(merged_into is None for merged_into in rows):
            return owners
    raise RuntimeError("identifiers kept moving between profiles; retry the message")


def _held(customer_ids: Iterable[int]) -> dict[int, dict[int, set[str]]]:
    """Per customer, per type id, the identifier values it holds."""
    held: dict[int, dict[int, set[str]]] = {}
    rows = Identity.objects.filter(customer_id__in=set(customer_ids)).values_list(
        "customer_id", "type_id", "value"
    )
    for customer_id, type_id, value in rows:
        held.setdefault(customer_id, {}).setdefault(type_id, set()).add(value)
    return held


@transaction.atomic
def resolve_identity(
    *,
    identifiers: list[tuple[str, str]],
    source_id: int | None,
    seen_at: datetime,
    message_id: str = "",
) -> Resolution:
    """Find or create the one profile these (type, normalized value) pairs name.

    Blocked values and identifiers that would break a rule are left out and
    recorded as issues (on the resolved profile and the source).
    """
    if not identifiers:
        raise ValueError("resolve_identity needs at least one identifier")
    types = identifier_types()
    screened, issues = screen_identifiers(identifiers=identifiers, types=types)
    if not screened:
        record_issues(issues=issues, source_id=source_id)
        raise ValueError("resolve_identity got no usable identifier")
    lock_identifiers(screened)
    wanted = [(types[name], value) for name, value in screened]
    owners = _lock_owners(wanted)
    by_pk = {t.pk: t for t in types.values()}
    held = _held(owners.values())
    wanted, refused = linkable(identifiers=wanted, owners=owners, held=held)
    issues.extend(refused)
    for customer_held in held.values():
        for type_id in customer_held:
            by_pk.setdefault(type_id, IdentifierType(pk=type_id, max_per_profile=10**9))
    selected, used, conflicts = _plan_with_types(wanted, owners, held, by_pk)
    for conflict in conflicts:
        logger.info("identity conflict on message %s: %s", message_id, conflict.message)
    created = False
    absorbed: list[int] = []
    if not selected:
        customer = Customer.objects.create(first_seen=seen_at, last_seen=seen_at)
        created = True
        emit(topic=Topic.PROFILE_CREATED, customer=customer, payload={"customer_id": customer.pk})
    else:
        profiles = list(Customer.objects.filter(pk__in=selected).order_by("pk"))
        customer = choose_survivor(profiles)
        others = [c for c in profiles if c.pk != customer.pk]
        if others:
            matched = {owners[(t.pk, v)]: f"{t.name}:{v}" for t, v in used if (t.pk, v) in owners}
            detail = {
                "message_id": message_id,
                "source_id": source_id,
                "identifiers": [matched[c.pk] for c in others],
            }
            merge_customers(
                survivor=customer, absorbed=others, reason=Merge.Reason.IDENTIFIER, detail=detail
            )
            customer.refresh_from_db()
            absorbed = [c.pk for c in others]
    new = [
        Identity(type=t, value=v, customer=customer, source_id=source_id, first_seen=seen_at)
        for t, v in used
        if (t.pk, v) not in owners
    ]
    if new:
        Identity.objects.bulk_create(new)
        bump_versions([customer.pk])
    if not customer.is_identified and any(t.name not in ANONYMOUS_TYPES for t, _ in used):
        customer.is_identified = True
        customer.save(update_fields=["is_identified"])
    record_issues(issues=[*issues, *conflicts], customer=customer, source_id=source_id)
    return Resolution(
        customer=customer,
        created=created,
        absorbed_ids=tuple(absorbed),
        new_identities=tuple(f"{i.type.name}:{i.value}" for i in new),
        conflicts=tuple(conflicts),
    )


def _plan_with_types(wanted, owners, held, by_pk):
    cap = settings.TRIBUTARY_MAX_MERGE_PROFILES
    selected: list[int] = []
    union: dict[int, set[str]] = {}
    used: list[tuple[IdentifierType, str]] = []
    conflicts: list[Issue] = []

    def fits(extra: dict[int, set[str]]) -> bool:
        return all(
            len(union.get(type_id, set()) | values) <= by_pk[type_id].max_per_profile
            for type_id, values in extra.items()
        )

    for identifier_type, value in sorted(wanted, key=lambda pair: pair[0].priority):
        name = identifier_type.name
        owner = owners.get((identifier_type.pk, value))
        if owner in selected:
            used.append((identifier_type, value))
            continue
        if owner is None:
            if fits({identifier_type.pk: {value}}):
                union.setdefault(identifier_type.pk, set()).add(value)
                used.append((identifier_type, value))
                continue
            code = "limit_conflict"
            why = f"a profile may hold at most {identifier_type.max_per_profile} {name}"
        elif selected and not identifier_type.merges:
            code, why = "merge_not_allowed", f"{name} matches do not merge profiles"
        elif len(selected) > cap:
            code, why = "merge_cap", f"one message may merge at most {cap} profiles into one"
        elif not fits(held.get(owner, {})):
            code, why = "limit_conflict", f"joining profile #{owner} would exceed a limit"
        else:
            selected.append(owner)
            for type_id, values in held.get(owner, {}).items():
                union.setdefault(type_id, set()).update(values)
            used.append((identifier_type, value))
            continue
        conflicts.append(Issue(name, value, code, f"{name} {value!r} not used: {why}"))
    return selected, used, conflicts
