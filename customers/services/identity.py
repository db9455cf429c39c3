"""Identity resolution: which profile does a set of identifiers belong to?"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction

from customers.models import Customer, IdentifierType, Identity
from customers.services.outbox import emit

ANONYMOUS_TYPES = frozenset({"anonymous_id"})


@dataclass(frozen=True)
class Resolution:
    customer: Customer
    created: bool
    absorbed_ids: tuple[int, ...] = ()
    new_identities: tuple[str, ...] = field(default=())


def identifier_types() -> dict[str, IdentifierType]:
    return {t.name: t for t in IdentifierType.objects.all()}


@transaction.atomic
def resolve_identity(
    *, identifiers: list[tuple[str, str]], source_id: int | None, seen_at: datetime
) -> Resolution:
    """Find or create the one profile these (type, normalized value) pairs name.

    No match creates a profile, one match attaches the new identifiers to it,
    several matches merge them into the oldest profile.
    """
    if not identifiers:
        raise ValueError("resolve_identity needs at least one identifier")
    types = identifier_types()
    wanted = [(types[name], value) for name, value in identifiers if name in types]
    existing = list(
        Identity.objects.select_for_update()
        .select_related("customer", "type")
        .filter(_identity_filter(wanted))
    )
    customers = {identity.customer_id: identity.customer for identity in existing}
    created = False
    absorbed: list[int] = []
    if not customers:
        customer = Customer.objects.create(first_seen=seen_at, last_seen=seen_at)
        created = True
        emit(topic="profile.created", customer=customer, payload={"customer_id": customer.pk})
    else:
        ordered = sorted(customers.values(), key=lambda c: (c.first_seen, c.pk))
        customer = ordered[0]
        for other in ordered[1:]:
            _absorb(survivor=customer, absorbed=other)
            absorbed.append(other.pk)
    known = {(i.type_id, i.value) for i in existing}
    new = [
        Identity(type=t, value=v, customer=customer, source_id=source_id, first_seen=seen_at)
        for t, v in wanted
        if (t.pk, v) not in known
    ]
    if new:
        Identity.objects.bulk_create(new)
    if not customer.is_identified and any(t.name not in ANONYMOUS_TYPES for t, _ in wanted):
        customer.is_identified = True
        customer.save(update_fields=["is_identified"])
    return Resolution(
        customer=customer,
        created=created,
        absorbed_ids=tuple(absorbed),
        new_identities=tuple(f"{i.type.name}:{i.value}" for i in new),
    )


def _identity_filter(wanted):
    from django.db.models import Q

    query = Q(pk__in=[])
    for identifier_type, value in wanted:
        query |= Q(type=identifier_type, value=value)
    return query


def _absorb(*, survivor: Customer, absorbed: Customer) -> None:
    Identity.objects.filter(customer=absorbed).update(customer=survivor)
    absorbed.events.update(customer=survivor)
    absorbed.merged_into = survivor
    absorbed.save(update_fields=["merged_into"])
    emit(
        topic="profile.merged",
        customer=survivor,
        payload={"customer_id": survivor.pk, "absorbed_id": absorbed.pk},
    )
