"""The one code path that turns normalized messages into profile changes.

normalize → resolve identity → update profile → store event, a batch at a
time: ``apply_messages`` is the pipeline and ``process_message`` is a batch
of one. Tracking API intake (``sources.services.intake.process_batch``), file
imports and REST writes all end up here.

Identity is resolved set-at-a-time for the common cases (every identifier
known and naming one profile; people never seen before) and through
``customers.services.identity.resolve_identity`` one message at a time for
everything else (joins, merges, limits), in message order.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from django.db import transaction

from consent.services.suppression import suppressed_indexes
from core.audit import acting_as, source_label
from core.db.copy import insert_rows
from customers.models import Customer, DataQualityIssue
from customers.services import shared_values
from customers.services.bulk import (
    EventRecord,
    NewIdentity,
    NewPerson,
    active_customers,
    add_identities,
    create_profiles,
    find_owners,
    identifiers_held,
    lock_active,
    record_events,
    stored_message_ids,
    within_limits,
)
from customers.services.groups import record_group
from customers.services.identity import (
    ANONYMOUS_TYPES,
    identifier_types,
    lock_identifiers,
    resolve_identity,
    screen_identifiers,
    try_lock_identifiers,
)
from customers.services.normalize import (
    InvalidValue,
    Issue,
    cleanse_core,
    normalize_country,
    normalize_identifier,
)
from customers.services.profiles import ProfileChanges
from customers.services.quality import issue_rows
from customers.services.reserved_traits import split_traits
from segments.services import profile_changes, reevaluate_customers
from sources.consent_capture import ConsentCapture
from sources.contracts import NormalizedMessage

_PREVIOUS_ID_TYPES = ("user_id", "anonymous_id")


@dataclass(frozen=True)
class ProcessResult:
    customer: Customer | None
    created_profile: bool
    event_created: bool
    # profiles this message merged into ``customer``
    merged_ids: tuple[int, ...] = ()
    # identifiers attached and profile fields/traits changed by this message
    new_identities: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    # values that could not be used (also recorded as data-quality issues)
    issues: tuple[Issue, ...] = ()
    # dropped: an identifier belongs to an erased person (counted per source)
    suppressed: bool = False
    # not applied: another transaction holds one of its person's identifiers
    # (only when ``apply_messages`` is told not to wait for them)
    postponed: bool = False


def message_identifiers(
    message: NormalizedMessage, *, known_types: Collection[str] | None = None
) -> list[tuple[str, str]]:
    """(type, normalized value) pairs the message carries; junk is left out."""
    return collect_identifiers(message, known_types=known_types)[0]


def collect_identifiers(
    message: NormalizedMessage, *, known_types: Collection[str] | None = None
) -> tuple[list[tuple[str, str]], list[Issue]]:
    """(type, normalized value) pairs the message carries, and the issues of
    the values that could not be used (junk placeholders, bad emails…).

    Person traits come from ``context.traits`` and ``traits`` (except on
    group calls, whose traits describe the group).
    ``context.externalIds`` of a type we do not know become ``external_id``
    values namespaced by their type. An alias's ``previousId`` is added by
    the caller, which knows whether it is a user id or an anonymous id.
    ``known_types`` are the identifier type names (read from the database
    when not given).
    """
    if known_types is None:
        known_types = identifier_types()
    context_traits = message.context.get("traits")
    person: dict = dict(context_traits) if isinstance(context_traits, dict) else {}
    if message.type != "group":
        person.update(message.traits)
    raw: list[tuple[str, object]] = [
        ("user_id", message.user_id),
        ("anonymous_id", message.anonymous_id),
        ("email", person.get("email")),
        ("phone", person.get("phone")),
    ]
    for type_name, value in message.external_ids:
        if type_name in known_types:
            raw.append((type_name, value))
        else:
            raw.append(("external_id", f"{type_name}:{value}"))
    found: list[tuple[str, str]] = []
    issues: list[Issue] = []
    region = _phone_region(person)
    for type_name, value in raw:
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            pair = (type_name, normalize_identifier(type_name, value, region=region))
        except InvalidValue as error:
            issues.append(Issue(type_name, str(value)[:500], error.code, error.message))
            continue
        if pair not in found:
            found.append(pair)
    return found, issues


def _phone_region(traits) -> str | None:
    """The profile's country, to read local phone numbers in (None: the default)."""
    address = traits.get("address")
    country = address.get("country") if isinstance(address, dict) else traits.get("country")
    if not country or not isinstance(country, str):
        return None
    try:
        return normalize_country(country)
    except InvalidValue:
        return None


def process_message(message: NormalizedMessage) -> ProcessResult:
    """Apply one message: a batch of one, attributed to its source in the audit
    trail (unless an actor, e.g. an API key, is already set)."""
    with acting_as(source_label(message.source_id), override=False):
        return apply_messages([message])[0]


@transaction.atomic
def apply_messages(
    messages: Sequence[NormalizedMessage], *, wait_for_locks: bool = True
) -> list[ProcessResult]:
    """Apply messages in order, in one transaction; each (source, messageId) once.

    Every identifier of the batch is locked first. With ``wait_for_locks``
    off, the messages of a person whose identifiers another transaction
    holds (with every message sharing an identifier with them) are not
    applied but returned ``postponed``, for the caller to apply once that
    transaction is over: two workers whose batches share a few people no
    longer take turns on the whole batch.
    """
    todo = list(range(len(messages)))
    types = identifier_types()
    limits = {name: t.max_per_profile for name, t in types.items()}
    plans: dict[int, list[tuple[str, str]]] = {}
    issues: dict[int, list[Issue]] = {}
    for i in todo:
        plans[i], issues[i] = collect_identifiers(messages[i], known_types=types)
        plans[i], blocked = screen_identifiers(identifiers=plans[i], types=types)
        issues[i].extend(blocked)
    previous = {
        i: [(t, messages[i].previous_id) for t in _PREVIOUS_ID_TYPES if messages[i].previous_id]
        for i in todo
    }
    wanted = [p for i in todo for p in (*plans[i], *previous[i])]
    postponed: set[int] = set()
    if wait_for_locks:
        # every identifier of the batch at once, in one order (no deadlocks)
        lock_identifiers(wanted)
    elif busy := try_lock_identifiers(wanted):
        postponed = _sharing(busy, {i: [*plans[i], *previous[i]] for i in todo})
        todo = [i for i in todo if i not in postponed]
    # only now: a transaction that held these people may have stored the same call
    done = _already_applied([messages[i] for i in todo])
    todo = [i for i in todo if (messages[i].source_id, messages[i].message_id) not in done]
    considered = set(todo)  # their issues are reported, suppressed or not
    # messages naming an erased person are dropped (and counted per source)
    dropped = suppressed_indexes(
        identifier_sets={i: plans[i] for i in todo},
        source_ids={i: messages[i].source_id for i in todo},
    )
    todo = [i for i in todo if i not in dropped]
    plans = {i: plans[i] for i in todo}
    owners = find_owners(identifiers=[p for i in todo for p in (*plans[i], *previous[i])])
    for i in todo:
        if messages[i].type == "alias":
            plans[i].append(_previous_identifier(messages[i].previous_id or "", owners))
    resolved = _resolve(messages, plans, owners, limits)
    owner_ids, created, merged, attached = (
        resolved.owner_ids,
        resolved.created,
        resolved.merged,
        resolved.attached,
    )
    customers = active_customers(
        ids={pk for pk in owner_ids.values() if pk is not None}, created=resolved.made
    )
    profile_writes = ProfileChanges()
    for customer_id in resolved.identified:
        profile_writes.mark_identified(customers[customer_id])
    for customer in resolved.made:
        profile_writes.created(customer)
    events: list[EventRecord] = []
    quality: list[DataQualityIssue] = []
    changed: dict[int, list[str]] = {}
    consent = ConsentCapture()
    for i in todo:
        message, owner = messages[i], owner_ids.get(i)
        if owner is None:
            quality += issue_rows(issues=issues[i], source_id=message.source_id)
            continue
        customer = customers[owner]
        consent.add(message=message, customer=customer, absorbed_ids=merged.get(i, ()))
        changed[i] = _update_profile(message, customer, issues[i], profile_writes)
        quality += issue_rows(issues=issues[i], customer=customer, source_id=message.source_id)
        events.append(_event_record(message, customer))
        profile_writes.seen(customer, message.timestamp)
    consent.flush()
    record_events(events=events)
    insert_rows(DataQualityIssue, quality)
    profile_writes.save()
    consent.publish()  # consent segments, now that every profile is written
    # Live segment membership, once for the batch: every touched profile
    # against the segments whose rules read anything the batch changed.
    touched: set[int] = set()
    changes: set[str] = set()
    for i in todo:
        if owner_ids.get(i) is None:
            continue
        touched.add(customers[owner_ids[i]].pk)
        touched.update(merged.get(i, ()))
        changes.update(
            profile_changes(
                fields=changed.get(i, ()),
                event=messages[i].event or None,
                identities=attached.get(i, ()),
                source_id=messages[i].source_id,
                merged=bool(merged.get(i)),
            )
        )
    reevaluate_customers(customer_ids=touched, changes=changes)
    results = []
    for i in range(len(messages)):
        owner = owner_ids.get(i)
        customer = customers[owner] if owner is not None else None
        results.append(
            ProcessResult(
                customer=customer,
                created_profile=created.get(i, False),
                event_created=customer is not None,
                merged_ids=merged.get(i, ()),
                new_identities=attached.get(i, ()),
                changed=tuple(changed.get(i, ())),
                issues=tuple(issues[i]) if i in considered else (),
                suppressed=i in dropped,
                postponed=i in postponed,
            )
        )
    return results


def _already_applied(messages: Sequence[NormalizedMessage]) -> set[tuple[int, str]]:
    by_source: dict[int, set[str]] = {}
    for message in messages:
        by_source.setdefault(message.source_id, set()).add(message.message_id)
    done: set[tuple[int, str]] = set()
    for source_id, ids in by_source.items():
        stored = stored_message_ids(source_id=source_id, message_ids=ids)
        done.update((source_id, message_id) for message_id in stored)
    return done


def _previous_identifier(previous_id: str, owners: dict) -> tuple[str, str]:
    """An alias's previousId as the type it is known under (anonymous if new)."""
    for type_name in _PREVIOUS_ID_TYPES:
        if (type_name, previous_id) in owners:
            return (type_name, previous_id)
    return ("anonymous_id", previous_id)


@dataclass
class _Resolved:
    """Per message index: its customer id, whether it created the profile,
    the profiles it merged, the identities it attached; and the profiles
    made in bulk (no history row yet, maybe not inserted yet) and the ids of
    those newly identified."""

    owner_ids: dict[int, int | None]
    created: dict[int, bool]
    merged: dict[int, tuple[int, ...]]
    attached: dict[int, tuple[str, ...]]
    made: list[Customer]
    identified: set[int]


def _resolve(messages, plans, owners, limits) -> _Resolved:
    owner_ids: dict[int, int | None] = {}
    created: dict[int, bool] = {}
    merged: dict[int, tuple[int, ...]] = {}
    attached: dict[int, tuple[str, ...]] = {}
    sequential: list[int] = []
    new_people: list[NewPerson] = []
    new_members: list[list[int]] = []
    to_known: list[tuple[list[int], int]] = []
    groups = _components(plans)
    contested = shared_values.contested(
        groups=[[p for i in members for p in plans[i]] for members in groups], owners=owners
    )
    for index, members in enumerate(groups):
        pairs = list(dict.fromkeys(p for i in members for p in plans[i]))
        if not pairs:
            owner_ids.update(dict.fromkeys(members))
            continue
        if index in contested:  # conflicts or shared values: planned one call at a time
            sequential.extend(members)
            continue
        known = {owners[p] for p in pairs if p in owners}
        no_alias = all(messages[i].type != "alias" for i in members)
        if not known and no_alias and within_limits(identifiers=pairs, limits=limits):
            first = min(members)
            new_people.append(
                NewPerson(
                    identifiers=tuple(pairs),
                    source_id=messages[first].source_id,
                    seen_at=min(messages[i].timestamp for i in members),
                )
            )
            new_members.append(members)
            continue
        if len(known) == 1 and no_alias:
            to_known.append((members, known.pop()))
            continue
        for i in members:
            holders = {owners.get(p) for p in plans[i]}
            if len(holders) == 1 and None not in holders and messages[i].type != "alias":
                owner_ids[i] = holders.pop()
            else:
                sequential.append(i)
    made = create_profiles(people=new_people)
    for members, customer in zip(new_members, made, strict=True):
        owner_ids.update(dict.fromkeys(members, customer.pk))
        created[min(members)] = True
        seen: set[tuple[str, str]] = set()
        for i in sorted(members):
            attached[i] = tuple(f"{t}:{v}" for t, v in plans[i] if (t, v) not in seen)
            seen.update(plans[i])
    attached_to_known, identified, refused = _attach_to_known(
        messages, plans, to_known, owners, limits
    )
    for members, customer_id in to_known:
        if customer_id in refused:
            sequential.extend(members)
            continue
        owner_ids.update(dict.fromkeys(members, customer_id))
    attached.update(attached_to_known)
    for i in sorted(sequential):
        message = messages[i]
        resolution = resolve_identity(
            identifiers=plans[i],
            source_id=message.source_id,
            seen_at=message.timestamp,
            message_id=message.message_id,
        )
        owner_ids[i] = resolution.customer.pk
        created[i] = resolution.created
        merged[i] = resolution.absorbed_ids
        attached[i] = resolution.new_identities
    return _Resolved(owner_ids, created, merged, attached, made, identified)


def _attach_to_known(messages, plans, to_known, owners, limits):
    """Components whose known identifiers all name one profile: attach the
    new identifiers to it in bulk.

    Returns the identities attached per message index, the profiles that
    became identified, and the profiles refused (merged away meanwhile, or a
    per-profile limit would be exceeded): their components go through
    ``resolve_identity``, which records the conflict.
    """
    # per component, in the same order as to_known (several may reach one profile)
    wanted = [{p for i in members for p in plans[i] if p not in owners} for members, _ in to_known]
    growing = {customer_id for (_, customer_id), new in zip(to_known, wanted, strict=True) if new}
    active = lock_active(growing)
    held = identifiers_held(active)
    refused = growing - active
    attached: dict[int, tuple[str, ...]] = {}
    identified: set[int] = set()
    rows: list[NewIdentity] = []
    for (members, customer_id), new_pairs in zip(to_known, wanted, strict=True):
        if not new_pairs:
            continue
        if customer_id in refused or not within_limits(
            identifiers=held[customer_id] | new_pairs, limits=limits
        ):
            refused.add(customer_id)
            continue
        for i in sorted(members):
            new = [p for p in plans[i] if p not in owners and p not in held[customer_id]]
            held[customer_id].update(new)
            attached[i] = tuple(f"{t}:{v}" for t, v in new)
            message = messages[i]
            rows.extend(
                NewIdentity(customer_id, t, v, message.source_id, message.timestamp) for t, v in new
            )
            if any(t not in ANONYMOUS_TYPES for t, _ in new):
                identified.add(customer_id)
    add_identities(rows)
    return attached, identified, refused


def _sharing(busy: set[tuple[str, str]], plans: dict[int, list[tuple[str, str]]]) -> set[int]:
    """Indexes of the messages in a group (shared identifiers) touching ``busy``."""
    return {
        i
        for members in _components(plans)
        if any(p in busy for i in members for p in plans[i])
        for i in members
    }


def _components(plans: dict[int, list[tuple[str, str]]]) -> list[list[int]]:
    """Message indexes grouped by shared identifiers (union-find)."""
    parent = {i: i for i in plans}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    holder: dict[tuple[str, str], int] = {}
    for i, plan in plans.items():
        for pair in plan:
            if pair in holder:
                parent[find(i)] = find(holder[pair])
            else:
                holder[pair] = i
    groups: dict[int, list[int]] = {}
    for i in plans:
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _update_profile(
    message: NormalizedMessage, customer: Customer, issues: list[Issue], changes: ProfileChanges
) -> list[str]:
    """Identify sets traits, group records the membership; returns what changed.

    ``issues`` gains cleansing's.
    """
    if message.type == "identify" and message.traits:
        raw_core, custom = split_traits(dict(message.traits))
        core, core_issues = cleanse_core(raw_core)
        reported = {(i.field, i.code) for i in issues}
        issues.extend(i for i in core_issues if (i.field, i.code) not in reported)
        return changes.set_traits(
            customer=customer,
            core=core,
            traits=custom,
            source_id=message.source_id,
            observed_at=message.timestamp,
            # a guess: what it cannot read is left out, its cell is kept as a trait
            address_if_unset=cleanse_core(message.address_if_unset).values,
        )
    if message.type == "group" and message.group_id:
        record_group(
            customer=customer,
            group_id=message.group_id,
            traits=dict(message.traits),
            source_id=message.source_id,
            observed_at=message.timestamp,
        )
    return []


def _event_record(message: NormalizedMessage, customer: Customer) -> EventRecord:
    properties = dict(message.properties)
    if message.type in ("group", "alias"):
        extra = {"groupId": message.group_id, "previousId": message.previous_id}
        properties.update({k: v for k, v in extra.items() if v is not None})
    return EventRecord(
        customer_id=customer.pk,
        source_id=message.source_id,
        type=message.type,
        name=message.event,
        properties=properties,
        context=dict(message.context),
        timestamp=message.timestamp,
        received_at=message.received_at,
        message_id=message.message_id,
        sent_at=message.sent_at,
        original_timestamp=message.original_timestamp,
        integrations=dict(message.integrations),
    )
