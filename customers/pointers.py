"""Which profile an identifier names, and at which version: one indexed query.

The read the profile-document cache starts from (``sources.personalization``):
cheap enough for every page view, and never stale, because the version is
read from the same row the change committed to.
"""

from __future__ import annotations

from dataclasses import dataclass

from customers.models import Customer
from customers.selectors import identities_named, resolve_survivor_id
from customers.services.normalize import normalize_identifier

_COLUMNS = (
    "customer_id",
    "customer__merged_into_id",
    "customer__version",
    "customer__is_identified",
)


@dataclass(frozen=True)
class ProfilePointer:
    customer_id: int
    version: int
    is_identified: bool


def find_profile_pointer(*, type_name: str, value: object) -> ProfilePointer | None:
    """The active profile holding ``(type_name, value)`` (merges followed), or None.

    Raises ``InvalidValue`` when the value cannot be an identifier of that type.
    """
    normalized = normalize_identifier(type_name, value)
    row = identities_named(type_name, normalized).values_list(*_COLUMNS).first()
    if row is None:
        return None
    customer_id, merged_into, version, identified = row
    if merged_into is not None:
        survivor = (
            Customer.objects.active()
            .filter(pk=resolve_survivor_id(customer_id))
            .values_list("pk", "version", "is_identified")
            .first()
        )
        if survivor is None:
            return None
        customer_id, version, identified = survivor
    return ProfilePointer(customer_id=customer_id, version=version, is_identified=identified)
