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
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from core.db.locks import lock, lock_key, try_lock
from core.db.lookups import AnyOf
from core.outbox import Topic, emit
from customers.models import Customer, IdentifierType, Identity, Merge
from customers.services.merging import choose_survivor, merge_customers
from customers.services.normalize import Issue
from customers.services.quality import record_issues
from customers.services.shared_values import linkable
from customers.services.versions import bump_versions

ANONYMOUS_TYPES = frozenset({"anonymous_id"})
# the data-quality codes of identifiers ``plan`` refuses (shown per source and profile)
REFUSAL_CODES = (
    "unknown_identifier_type",
    "blocked_identifier",
    "limit_conflict",
    "merge_not_allowed",
    "merge_cap",
)
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


class Action(StrEnum):
    """What a plan does with the profiles its identifiers name."""

    CREATE = "create"  # no usable identifier is known: a new profile
    ATTACH = "attach"  # the known ones name one profile: the new ones join it
    MERGE = "merge"  # they name several: merge them, the new ones join the survivor
    REFUSE = "refuse"  # no usable identifier at all (``reason`` says why)


@dataclass(frozen=True)
class TypeRule:
    """The rules of one identifier type, as planning reads them."""

    priority: int = 5
    max_per_profile: int = 10**9
    merges: bool = True
    blocked: frozenset[str] = frozenset()


@dataclass(frozen=True)
class IdentityRules:
    """Every rule ``plan`` applies: per type, and the merge cap."""

    types: Mapping[str, TypeRule]
    merge_cap: int

    @classmethod
    def load(cls, types: Mapping[str, IdentifierType] | None = None) -> IdentityRules:
        types = identifier_types() if types is None else types
        return cls(
            types={
                name: TypeRule(
                    priority=t.priority,
                    max_per_profile=t.max_per_profile,
                    merges=t.merges,
                    blocked=frozenset(str(v).lower() for v in t.blocked_values),
                )
                for name, t in types.items()
            },
            merge_cap=settings.TRIBUTARY_MAX_MERGE_PROFILES,
        )

    def rule(self, type_name: str) -> TypeRule:
        # a type created after the rules were read: no limit to hold it to
        return self.types.get(type_name, TypeRule())

    def fits(self, identifiers: Iterable[tuple[str, str]]) -> bool:
        """Whether one profile may hold all these identifiers (per-type limits)."""
        return self.fits_counts(Counter(name for name, _ in set(identifiers)))

    def fits_counts(self, counts: Mapping[str, int]) -> bool:
        """Whether one profile may hold this many identifiers of each type."""
        return all(n <= self.rule(name).max_per_profile for name, n in counts.items())


@dataclass(frozen=True)
class IdentityPlan:
    """``plan``'s decision for one set of identifiers.

    ``profile_ids``: the existing profiles joined (one to attach to, several
    to merge; the survivor is ``merging.choose_survivor``'s pick). ``used``:
    the identifiers the profile ends up holding from this set, ``new`` those
    of them nobody holds yet. ``refused``: each identifier left out, with why.
    """

    action: Action
    profile_ids: tuple[int, ...] = ()
    used: tuple[tuple[str, str], ...] = ()
    new: tuple[tuple[str, str], ...] = ()
    refused: tuple[Issue, ...] = ()
    reason: str = ""
    # used pairs this call renames away (kept with ``superseded_at``)
    superseded: tuple[tuple[str, str], ...] = ()


# the types an alias's previousId may be known under, most specific first
PREVIOUS_ID_TYPES = ("user_id", "anonymous_id")


def previous_identifier(
    *, previous_id: str, user_id: str | None, owners: Mapping[tuple[str, str], int]
) -> tuple[tuple[str, str], bool]:
    """An alias's previousId as the type it is known under (an anonymous id
    when unknown), and whether the alias renames it: a known user id other
    than the alias's, kept superseded (see ``plan``'s ``superseded``)."""
    pair = next(
        ((t, previous_id) for t in PREVIOUS_ID_TYPES if (t, previous_id) in owners),
        ("anonymous_id", previous_id),
    )
    return pair, pair[0] == "user_id" and pair != ("user_id", user_id)


def screen_identifiers(
    *, identifiers: Iterable[tuple[str, str]], rules: IdentityRules | None = None
) -> tuple[list[tuple[str, str]], list[Issue]]:
    """Drop identifiers of unknown types and blocked values; report each."""
    rules = IdentityRules.load() if rules is None else rules
    kept: list[tuple[str, str]] = []
    issues: list[Issue] = []
    for name, value in identifiers:
        type_rule = rules.types.get(name)
        if type_rule is None:
            issues.append(
                Issue(name, value, "unknown_identifier_type", f"{name} is not an identifier type")
            )
        elif value.lower() in type_rule.blocked:
            issues.append(
                Issue(name, value, "blocked_identifier", f"{value!r} is blocked for {name}")
            )
        elif (name, value) not in kept:
            kept.append((name, value))
    return kept, issues


def plan(
    *,
    identifiers: Sequence[tuple[str, str]],
    owners: Mapping[tuple[str, str], int],
    held: Mapping[int, Collection[tuple[str, str]]],
    rules: IdentityRules,
    superseded: Collection[tuple[str, str]] = (),
) -> IdentityPlan:
    """Decide which profile these cleansed (type, value) pairs belong to.

    The one implementation of identity decisions: the per-message path, the
    batched pipeline (and so imports and REST writes) and duplicate merges
    all ask it. Pure: reads nothing, writes nothing.

    ``owners``: the profile holding each pair that is known (other pairs
    may be present); ``held``: the pairs each of those profiles holds that
    count toward limits (superseded ones left out). ``superseded``: pairs
    this call renames away (an alias's previousId that is a former user
    id): they join like any other but never count toward a limit.

    Blocklists first, then identifiers from the most trusted type (lowest
    priority number) down, each joining the plan unless it would break a
    rule — per-profile limit, a match on a type that does not merge, the
    merge cap — in which case it is refused (the least trusted conflicting
    identifier is the one dropped).
    """
    candidates, refused = screen_identifiers(identifiers=identifiers, rules=rules)
    # the one place to narrow which candidates may link profiles (e.g. shared values)
    if not candidates:
        return IdentityPlan(Action.REFUSE, refused=tuple(refused), reason="no usable identifier")
    renamed = set(superseded)
    selected: list[int] = []
    union: set[tuple[str, str]] = set()  # what the profile will hold (counted pairs)
    used: list[tuple[str, str]] = []
    for pair in sorted(candidates, key=lambda p: rules.rule(p[0]).priority):
        owner = owners.get(pair)
        if owner is not None and owner in selected:
            used.append(pair)
            continue
        joined = set(held.get(owner, ())) - renamed if owner is not None else {pair} - renamed
        refusal = _refusal(pair, owner, selected, rules.fits(union | joined), rules)
        if refusal is not None:
            refused.append(refusal)
            continue
        if owner is not None:
            selected.append(owner)
        union |= joined
        used.append(pair)
    action = Action.MERGE if len(selected) > 1 else Action.ATTACH if selected else Action.CREATE
    return IdentityPlan(
        action,
        profile_ids=tuple(selected),
        used=tuple(used),
        new=tuple(p for p in used if p not in owners),
        refused=tuple(refused),
        superseded=tuple(p for p in used if p in renamed),
    )


def linkable_identifiers(
    *,
    identifiers: Sequence[tuple[str, str]],
    owners: Mapping[tuple[str, str], int],
    held: Mapping[int, Collection[tuple[str, str]]],
    types: Mapping[str, IdentifierType],
) -> tuple[list[tuple[str, str]], list[Issue]]:
    """``shared_values.linkable`` over (type name, value) pairs, run just
    before ``plan``: the identifiers that may link this call (no conflicting
    identifier, no shared value) and the issues of those that may not.

    Reads the shared-value flags and records sightings, so the caller holds
    the identifiers' locks. ``resolve_identity`` is its only caller: the
    batched pipeline sends every group it could touch there
    (``shared_values.contested``).
    """
    typed = [(types[name], value) for name, value in identifiers]
    owner_by_id = {(types[t].pk, v): owner for (t, v), owner in owners.items() if t in types}
    held_by_id: dict[int, dict[int, set[str]]] = {}
    for customer_id, pairs in held.items():
        per_type = held_by_id.setdefault(customer_id, {})
        for name, value in pairs:
            if name in types:
                per_type.setdefault(types[name].pk, set()).add(value)
    kept, issues = linkable(identifiers=typed, owners=owner_by_id, held=held_by_id)
    return [(t.name, value) for t, value in kept], issues


def _refusal(
    pair: tuple[str, str], owner: int | None, selected: list[int], fits: bool, rules: IdentityRules
) -> Issue | None:
    """Why ``pair`` may not join the plan (None: it may)."""
    name, value = pair
    if owner is None:
        if fits:
            return None
        code = "limit_conflict"
        why = f"a profile may hold at most {rules.rule(name).max_per_profile} {name}"
    elif selected and not rules.rule(name).merges:
        code, why = "merge_not_allowed", f"{name} matches do not merge profiles"
    elif len(selected) > rules.merge_cap:
        cap = rules.merge_cap
        code, why = "merge_cap", f"one message may merge at most {cap} profiles into one"
    elif not fits:
        code, why = "limit_conflict", f"joining profile #{owner} would exceed a limit"
    else:
        return None
    return Issue(name, value, code, f"{name} {value!r} not used: {why}")


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


def find_owners(*, identifiers: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Which customer holds each known (type, value) pair, in one query (by
    type id: the (type, value) index, no join)."""
    type_ids = dict(IdentifierType.objects.values_list("name", "pk"))
    names = {pk: name for name, pk in type_ids.items()}
    by_type: dict[int, set[str]] = {}
    for name, value in identifiers:
        if name in type_ids:
            by_type.setdefault(type_ids[name], set()).add(value)
    if not by_type:
        return {}
    query = Q(pk__in=[])
    for type_id, values in by_type.items():
        query |= Q(type_id=type_id) & AnyOf("value", values)
    rows = Identity.objects.filter(query).order_by().values_list("type_id", "value", "customer_id")
    return {(names[type_id], value): customer for type_id, value, customer in rows}


def identifiers_held(customer_ids: Iterable[int]) -> dict[int, set[tuple[str, str]]]:
    """Per profile, the (type, value) pairs it holds that count toward limits
    (superseded ones left out), in one query."""
    held: dict[int, set[tuple[str, str]]] = {pk: set() for pk in customer_ids}
    counted = Identity.objects.filter(AnyOf("customer_id", held), superseded_at__isnull=True)
    rows = counted.order_by().values_list("customer_id", "type__name", "value")
    for customer_id, type_name, value in rows:
        held[customer_id].add((type_name, value))
    return held


def _lock_owners(identifiers: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Owners of these identifiers, with their rows locked and none merged away.

    A concurrent merge may absorb an owner between reading the identities and
    locking it; then its identities have moved, so read them again.
    """
    for _attempt in range(10):
        owners = find_owners(identifiers=identifiers)
        rows = (
            Customer.objects.select_for_update()
            .filter(pk__in=set(owners.values()))
            .order_by("pk")
            .values_list("merged_into_id", flat=True)
        )
        if all(merged_into is None for merged_into in rows):
            return owners
    raise RuntimeError("identifiers kept moving between profiles; retry the message")


@transaction.atomic
def resolve_identity(
    *,
    identifiers: list[tuple[str, str]],
    source_id: int | None,
    seen_at: datetime,
    message_id: str = "",
    superseded: Collection[tuple[str, str]] = (),
) -> Resolution:
    """Find or create the one profile these (type, normalized value) pairs name.

    Opens its own transaction (a savepoint inside a caller's). Locks the
    identifiers, reads their owners, leaves out conflicting identifiers and
    shared values (``linkable_identifiers``), lets ``plan`` decide and
    carries the plan out. Blocked values, conflicting or shared values and
    identifiers that would break a rule are left out and recorded as issues
    (on the resolved profile and the source). ``superseded``: see ``plan``
    (an alias renaming a user id).
    """
    if not identifiers:
        raise ValueError("resolve_identity needs at least one identifier")
    types = identifier_types()
    rules = IdentityRules.load(types)
    screened, issues = screen_identifiers(identifiers=identifiers, rules=rules)
    if not screened:
        record_issues(issues=issues, source_id=source_id)
        raise ValueError("resolve_identity got no usable identifier")
    lock_identifiers(screened)
    owners = _lock_owners(screened)
    held = identifiers_held(owners.values())
    linked, unlinked = linkable_identifiers(
        identifiers=screened, owners=owners, held=held, types=types
    )
    issues.extend(unlinked)
    # every identifier conflicting or shared: somebody new (the values stay data)
    decided = (
        plan(identifiers=linked, owners=owners, held=held, rules=rules, superseded=superseded)
        if linked
        else IdentityPlan(Action.CREATE)
    )
    for conflict in decided.refused:
        logger.info("identity conflict on message %s: %s", message_id, conflict.message)
    customer, absorbed = _carry_out(decided, owners, source_id, seen_at, message_id)
    new = _add_identities(decided.new, types, customer, source_id, seen_at)
    _supersede(decided.superseded, types, at=seen_at)
    if not customer.is_identified and any(t not in ANONYMOUS_TYPES for t, _ in decided.used):
        customer.is_identified = True
        customer.save(update_fields=["is_identified"])
    record_issues(issues=[*issues, *decided.refused], customer=customer, source_id=source_id)
    return Resolution(
        customer=customer,
        created=decided.action == Action.CREATE,
        absorbed_ids=tuple(absorbed),
        new_identities=tuple(f"{i.type.name}:{i.value}" for i in new),
        conflicts=decided.refused,
    )


def _carry_out(
    decided: IdentityPlan,
    owners: Mapping[tuple[str, str], int],
    source_id: int | None,
    seen_at: datetime,
    message_id: str,
) -> tuple[Customer, list[int]]:
    """The profile a plan resolves to (created, or the survivor of its merge)."""
    if decided.action == Action.CREATE:
        customer = Customer.objects.create(first_seen=seen_at, last_seen=seen_at)
        emit(topic=Topic.PROFILE_CREATED, customer=customer, payload={"customer_id": customer.pk})
        return customer, []
    profiles = list(Customer.objects.filter(pk__in=decided.profile_ids).order_by("pk"))
    customer = choose_survivor(profiles)
    others = [c for c in profiles if c.pk != customer.pk]
    if not others:
        return customer, []
    matched = {owners[p]: f"{p[0]}:{p[1]}" for p in decided.used if p in owners}
    detail = {
        "message_id": message_id,
        "source_id": source_id,
        "identifiers": [matched[c.pk] for c in others],
    }
    merge_customers(
        survivor=customer, absorbed=others, reason=Merge.Reason.IDENTIFIER, detail=detail
    )
    customer.refresh_from_db()
    return customer, [c.pk for c in others]


def _supersede(
    pairs: Sequence[tuple[str, str]], types: Mapping[str, IdentifierType], *, at: datetime
) -> None:
    """Mark identities renamed by an alias (each saved: its history records it)."""
    for name, value in pairs:
        for identity in Identity.objects.filter(
            type=types[name], value=value, superseded_at__isnull=True
        ):
            identity.superseded_at = at
            identity.save(update_fields=["superseded_at"])


def _add_identities(
    pairs: Sequence[tuple[str, str]],
    types: Mapping[str, IdentifierType],
    customer: Customer,
    source_id: int | None,
    seen_at: datetime,
) -> list[Identity]:
    new = [
        Identity(type=types[t], value=v, customer=customer, source_id=source_id, first_seen=seen_at)
        for t, v in pairs
    ]
    if new:
        Identity.objects.bulk_create(new)
        bump_versions([customer.pk])
    return new
