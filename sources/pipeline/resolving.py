"""Stage 4, resolve: the profile each message belongs to.

Every decision is ``customers.services.identity.plan``'s. Groups of messages
sharing identifiers are planned together and carried out in bulk in the
common cases (people never seen before; identifiers that name one known
profile); every other message (aliases, joins, merges, refusals) goes
through ``resolve_identity`` one at a time, in batch order. So do the
groups a conflicting identifier or a shared value could touch
(``customers.services.shared_values.contested``): ``resolve_identity`` is
where those rules apply, so batches and single calls agree.
"""

from __future__ import annotations

from customers.services import shared_values
from customers.services.bulk import (
    NewIdentity,
    NewPerson,
    add_identities,
    create_profiles,
    lock_active,
)
from customers.services.identity import (
    ANONYMOUS_TYPES,
    Action,
    find_owners,
    identifiers_held,
    plan,
    previous_identifier,
    resolve_identity,
)
from sources.pipeline.state import Batch, MessageState, Pair, components

Group = list[MessageState]


def resolve_batch(batch: Batch) -> None:
    live = batch.live
    batch.owners = find_owners(identifiers=[p for state in live for p in state.locked])
    new_people, to_known, one_at_a_time = _sort_groups(batch, live)
    _create(batch, new_people)
    one_at_a_time += _attach_to_known(batch, to_known)
    for state in sorted(one_at_a_time, key=lambda s: s.index):
        if state.message.type == "alias":
            _add_previous_id(state)
        _resolve_one(state)


def _add_previous_id(state: MessageState) -> None:
    """An alias's previousId joins its identifiers as the type it is known
    under now: every earlier message naming it is applied by then (they
    share its group)."""
    message = state.message
    if not message.previous_id:
        return
    pair, renamed = previous_identifier(
        previous_id=message.previous_id,
        user_id=message.user_id,
        owners=find_owners(identifiers=state.previous),
    )
    if renamed:
        state.superseded.append(pair)
    state.identifiers.append(pair)


def _locked(state: MessageState) -> list[Pair]:
    return state.locked


def _sort_groups(
    batch: Batch, live: list[MessageState]
) -> tuple[list[Group], list[tuple[Group, int]], list[MessageState]]:
    """Groups of new people, groups naming one known profile, and the rest."""
    owners = batch.owners
    new_people: list[Group] = []
    to_known: list[tuple[Group, int]] = []
    rest: list[MessageState] = []
    # an alias's group holds every message naming its previousId as any type
    groups = components(live, _locked)
    contested = shared_values.contested(
        groups=[[p for state in members for p in state.identifiers] for members in groups],
        owners=owners,
        types=batch.types,
    )
    for index, members in enumerate(groups):
        if not any(state.locked for state in members):
            continue  # nothing to resolve: no profile, the issues are reported
        pairs = list(dict.fromkeys(p for state in members for p in state.identifiers))
        if index in contested:  # conflicts or shared values: planned one call at a time
            rest.extend(members)
            continue
        known = {owners[p] for p in pairs if p in owners}
        no_alias = all(state.message.type != "alias" for state in members)
        if not known and no_alias:
            decided = plan(identifiers=pairs, owners={}, held={}, rules=batch.rules)
            if decided.action == Action.CREATE and not decided.refused:
                new_people.append(members)
                continue
        if len(known) == 1 and no_alias:
            to_known.append((members, known.pop()))
            continue
        for state in members:
            holders = {owners.get(p) for p in state.identifiers}
            if len(holders) == 1 and None not in holders and state.message.type != "alias":
                state.customer_id = holders.pop()  # every identifier already its
            else:
                rest.append(state)
    return new_people, to_known, rest


def _create(batch: Batch, groups: list[Group]) -> None:
    """One new profile per group, with its identities, in bulk."""
    people = [
        NewPerson(
            identifiers=tuple(dict.fromkeys(p for state in members for p in state.identifiers)),
            source_id=members[0].message.source_id,
            seen_at=min(state.message.timestamp for state in members),
        )
        for members in groups
    ]
    batch.made = create_profiles(people=people)
    for members, customer in zip(groups, batch.made, strict=True):
        members[0].created = True
        seen: set[Pair] = set()
        for state in members:
            state.customer_id = customer.pk
            state.attached = tuple(f"{t}:{v}" for t, v in state.identifiers if (t, v) not in seen)
            seen.update(state.identifiers)


def _attach_to_known(batch: Batch, to_known: list[tuple[Group, int]]) -> list[MessageState]:
    """Groups whose known identifiers all name one profile: attach the new
    identifiers to it in bulk, where ``plan`` agrees.

    Returns the messages of the profiles it refused (merged away meanwhile,
    or a rule such as a per-profile limit says no): ``resolve_identity``
    takes them one at a time and records the conflict.
    """
    owners = batch.owners
    # per group, in to_known's order (several groups may reach one profile)
    wanted = [
        {p for state in members for p in state.identifiers if p not in owners}
        for members, _ in to_known
    ]
    growing = {customer_id for (_, customer_id), new in zip(to_known, wanted, strict=True) if new}
    active = lock_active(growing)
    held = identifiers_held(active)
    refused = growing - active
    rows: list[NewIdentity] = []
    for (members, customer_id), new_pairs in zip(to_known, wanted, strict=True):
        if not new_pairs or customer_id in refused:
            continue
        pairs = [p for state in members for p in state.identifiers]
        decided = plan(
            identifiers=pairs,
            owners=owners,
            held={customer_id: held[customer_id]},
            rules=batch.rules,
        )
        if decided.action != Action.ATTACH or decided.refused:
            refused.add(customer_id)
            continue
        for state in members:
            new = [p for p in state.identifiers if p not in owners and p not in held[customer_id]]
            held[customer_id].update(new)
            state.attached = tuple(f"{t}:{v}" for t, v in new)
            message = state.message
            rows.extend(
                NewIdentity(customer_id, t, v, message.source_id, message.timestamp) for t, v in new
            )
            if any(t not in ANONYMOUS_TYPES for t, _ in new):
                batch.identified.add(customer_id)
    add_identities(rows)
    rest = []
    for members, customer_id in to_known:
        if customer_id in refused:
            rest.extend(members)
        else:
            for state in members:
                state.customer_id = customer_id
    return rest


def _resolve_one(state: MessageState) -> None:
    message = state.message
    resolution = resolve_identity(
        identifiers=state.identifiers,
        source_id=message.source_id,
        seen_at=message.timestamp,
        message_id=message.message_id,
        superseded=state.superseded,
    )
    state.customer_id = resolution.customer.pk
    state.created = resolution.created
    state.merged = resolution.absorbed_ids
    state.attached = resolution.new_identities
