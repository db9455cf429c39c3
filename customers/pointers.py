"""Which profile an identifier names, and at which version: one indexed query.

The read the profile-document cache starts from (``sources.personalization``):
cheap enough for every page view, and never stale, because the version is
read from the rows the change committed to: the profile's own counter plus
its stamp (``customers.services.versions``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from django.db import connection
from django.db.models import F
from django.db.models.functions import Coalesce

from core.db import async_reads
from customers.models import Customer, IdentifierType, Identity, ProfileStamp
from customers.selectors import resolve_survivor_id
from customers.services.normalize import normalize_identifier


@dataclass(frozen=True)
class ProfilePointer:
    customer_id: int
    version: int
    is_identified: bool


class MergedProfile(Exception):
    """The identifier's profile was merged into another (``afind_unmerged_pointer``)."""


def find_profile_pointer(*, type_name: str, value: object) -> ProfilePointer | None:
    """The active profile holding ``(type_name, value)`` (merges followed), or None.

    Raises ``InvalidValue`` when the value cannot be an identifier of that type.
    """
    normalized = normalize_identifier(type_name, value)
    with connection.cursor() as cursor:
        cursor.execute(_pointer_sql(), [type_name, normalized])
        row = cursor.fetchone()
    if row is None:
        return None
    customer_id, merged_into, version, identified = row
    if merged_into is not None:
        survivor = (
            Customer.objects.active()
            .filter(pk=resolve_survivor_id(customer_id))
            .annotate(document_version=document_version())
            .values_list("pk", "document_version", "is_identified")
            .first()
        )
        if survivor is None:
            return None
        customer_id, version, identified = survivor
    return ProfilePointer(customer_id=customer_id, version=version, is_identified=bool(identified))


async def afind_unmerged_pointer(*, type_name: str, normalized: str) -> ProfilePointer | None:
    """``find_profile_pointer`` on the event loop, for an already normalized value.

    Raises ``MergedProfile`` rather than following a merge (rare; the
    synchronous reader does)."""
    row = await async_reads.fetch_one(_pointer_sql(), [type_name, normalized])
    if row is None:
        return None
    customer_id, merged_into, version, identified = row
    if merged_into is not None:
        raise MergedProfile(customer_id)
    return ProfilePointer(customer_id=customer_id, version=version, is_identified=bool(identified))


def document_version():
    """A profile's document version, for ``annotate``: its own counter plus
    its stamp (``customers.services.versions``); both only grow."""
    return F("version") + Coalesce(F("stamp__stamp"), 0)


def document_versions(customer_ids: Iterable[int]) -> dict[int, int]:
    """The document version of each of these profiles, as a pointer reads it."""
    return dict(
        Customer.objects.filter(pk__in=list(customer_ids))
        .annotate(document_version=document_version())
        .values_list("pk", "document_version")
    )


@cache
def _pointer_sql() -> str:
    """``identities_named(...)`` joined to its profile, as SQL written once: this
    runs on every page view, and building the ORM query cost more CPU than
    running it. (type, value) is unique, so no ORDER BY."""
    qn = connection.ops.quote_name
    identity, kind, customer = Identity._meta, IdentifierType._meta, Customer._meta
    stamp = ProfileStamp._meta
    template = (
        "SELECT i.{customer_id}, c.{merged_into}, c.{version} + COALESCE(s.{stamp}, 0), "
        "c.{identified} "
        "FROM {identity} i JOIN {kind} t ON t.{kind_pk} = i.{type_id} "
        "JOIN {customer} c ON c.{customer_pk} = i.{customer_id} "
        "LEFT JOIN {stamps} s ON s.{stamp_customer} = c.{customer_pk} "
        "WHERE t.{name} = %s AND i.{value} = %s"
    )
    # names from the models (quoted); the identifier's values are parameters
    return template.format(
        customer_id=qn(identity.get_field("customer").column),
        merged_into=qn(customer.get_field("merged_into").column),
        version=qn(customer.get_field("version").column),
        identified=qn(customer.get_field("is_identified").column),
        identity=qn(identity.db_table),
        kind=qn(kind.db_table),
        kind_pk=qn(kind.pk.column),
        type_id=qn(identity.get_field("type").column),
        customer=qn(customer.db_table),
        customer_pk=qn(customer.pk.column),
        stamps=qn(stamp.db_table),
        stamp=qn(stamp.get_field("stamp").column),
        stamp_customer=qn(stamp.pk.column),
        name=qn(kind.get_field("name").column),
        value=qn(identity.get_field("value").column),
    )
