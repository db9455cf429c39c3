"""Groups (accounts, companies) and who belongs to them."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from customers.models import Customer, Group, GroupMembership


@transaction.atomic
def record_group(
    *,
    customer: Customer,
    group_id: str,
    traits: dict[str, object],
    source_id: int | None,
    observed_at: datetime,
) -> tuple[Group, GroupMembership]:
    """Create or update the group and the customer's membership of it.

    Traits follow the profile rule: a value older than the one held (by its
    provenance time) does not overwrite it.
    """
    group, _ = Group.objects.select_for_update().get_or_create(
        group_id=group_id, defaults={"first_seen": observed_at, "last_seen": observed_at}
    )
    stamp = observed_at.isoformat()
    new_traits = dict(group.traits)
    provenance = dict(group.trait_provenance)
    for key, value in traits.items():
        held = provenance.get(key)
        if new_traits.get(key) != value and (held is None or held.get("at", "") <= stamp):
            new_traits[key] = value
            provenance[key] = {"source": source_id, "at": stamp}
    group.traits, group.trait_provenance = new_traits, provenance
    name = new_traits.get("name")
    if isinstance(name, str):
        group.name = name[:200]
    group.last_seen = max(group.last_seen, observed_at)
    group.first_seen = min(group.first_seen, observed_at)
    group.save(update_fields=["traits", "trait_provenance", "name", "last_seen", "first_seen"])
    membership, created = GroupMembership.objects.get_or_create(
        group=group,
        customer=customer,
        defaults={"source_id": source_id, "first_seen": observed_at, "last_seen": observed_at},
    )
    if not created and observed_at > membership.last_seen:
        membership.last_seen = observed_at
        membership.save(update_fields=["last_seen"])
    return group, membership
