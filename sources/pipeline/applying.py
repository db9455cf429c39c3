"""Stage 5, apply: each message's changes, gathered in memory for persist.

Profile fields and traits (identify), group membership (group), consent,
the event record, the data-quality issues.
"""

from __future__ import annotations

from customers.models import Customer
from customers.services.bulk import EventRecord, active_customers
from customers.services.groups import record_group
from customers.services.normalize import cleanse_core
from customers.services.quality import issue_rows
from customers.services.reserved_traits import split_traits
from sources.pipeline.state import Batch, MessageState


def apply_batch(batch: Batch) -> None:
    live = batch.live
    batch.customers = active_customers(
        ids={s.customer_id for s in live if s.customer_id is not None}, created=batch.made
    )
    for customer_id in batch.identified:
        batch.profiles.mark_identified(batch.customers[customer_id])
    for customer in batch.made:
        batch.profiles.created(customer)
    for state in live:
        message = state.message
        if state.customer_id is None:
            batch.quality += issue_rows(issues=state.issues, source_id=message.source_id)
            continue
        customer = state.customer = batch.customers[state.customer_id]
        batch.consent.add(message=message, customer=customer, absorbed_ids=state.merged)
        state.changed = _update_profile(batch, state, customer)
        batch.quality += issue_rows(
            issues=state.issues, customer=customer, source_id=message.source_id
        )
        batch.events.append(_event_record(state, customer))
        batch.profiles.seen(customer, message.timestamp)


def _update_profile(batch: Batch, state: MessageState, customer: Customer) -> list[str]:
    """Identify sets traits, group records the membership; returns what changed.

    The state's issues gain cleansing's.
    """
    message = state.message
    if message.type == "identify" and message.traits:
        raw_core, custom = split_traits(dict(message.traits))
        core, core_issues = cleanse_core(raw_core)
        reported = {(i.field, i.code) for i in state.issues}
        state.issues.extend(i for i in core_issues if (i.field, i.code) not in reported)
        return batch.profiles.set_traits(
            customer=customer,
            core=core,
            traits=custom,
            source_id=message.source_id,
            observed_at=message.timestamp,
            # a guess: what it cannot read is left out, its cell is kept as a trait
            address_if_unset=(
                cleanse_core(message.address_if_unset).values if message.address_if_unset else {}
            ),
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


def _event_record(state: MessageState, customer: Customer) -> EventRecord:
    message = state.message
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
