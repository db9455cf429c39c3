"""The one code path that turns a normalized message into profile changes.

intake → normalize → resolve identity → update profile → store event.
Tracking API, file imports and REST writes all end up in ``process_message``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from customers.models import Customer
from customers.services.identity import resolve_identity, screen_identifiers
from customers.services.normalize import (
    InvalidValue,
    Issue,
    cleanse_core,
    normalize_country,
    normalize_identifier,
)
from customers.services.profiles import apply_traits, record_event
from customers.services.quality import record_issues
from segments.services import profile_changes, reevaluate_customers
from sources.contracts import NormalizedMessage

# Segment's reserved traits that land in core profile fields.
_RESERVED_TRAITS = {
    "email": "email",
    "phone": "phone",
    "firstName": "first_name",
    "first_name": "first_name",
    "lastName": "last_name",
    "last_name": "last_name",
    "birthday": "birthday",
}
_ADDRESS_TRAITS = {
    "street": "address_line1",
    "street2": "address_line2",
    "city": "city",
    "state": "region",
    "postalCode": "postal_code",
    "postal_code": "postal_code",
    "country": "country",
}


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


def message_identifiers(message: NormalizedMessage) -> list[tuple[str, str]]:
    """(type, normalized value) pairs the message carries; junk is left out."""
    return collect_identifiers(message)[0]


def collect_identifiers(message: NormalizedMessage) -> tuple[list[tuple[str, str]], list[Issue]]:
    """(type, normalized value) pairs the message carries, and the issues of
    the values that could not be used (junk placeholders, bad emails…)."""
    raw: list[tuple[str, object]] = [
        ("user_id", message.user_id),
        ("anonymous_id", message.anonymous_id),
        ("email", message.traits.get("email")),
        ("phone", message.traits.get("phone")),
        *message.external_ids,
    ]
    if message.type == "alias":
        raw.append(("user_id", message.previous_id))
    found: list[tuple[str, str]] = []
    issues: list[Issue] = []
    region = _phone_region(message.traits)
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


def split_traits(traits: dict) -> tuple[dict, dict]:
    core: dict[str, object] = {}
    custom: dict[str, object] = {}
    for key, value in traits.items():
        if key in _RESERVED_TRAITS:
            core[_RESERVED_TRAITS[key]] = value
        elif key == "address" and isinstance(value, dict):
            for part, field_name in _ADDRESS_TRAITS.items():
                if part in value:
                    core[field_name] = value[part]
        elif key == "company" and isinstance(value, dict) and "name" in value:
            core["company"] = value["name"]
        else:
            custom[key] = value
    return core, custom


@transaction.atomic
def process_message(message: NormalizedMessage) -> ProcessResult:
    identifiers, issues = collect_identifiers(message)
    identifiers, blocked = screen_identifiers(identifiers=identifiers)
    issues.extend(blocked)
    if not identifiers:
        record_issues(issues=issues, source_id=message.source_id)
        return ProcessResult(
            customer=None, created_profile=False, event_created=False, issues=tuple(issues)
        )
    resolution = resolve_identity(
        identifiers=identifiers,
        source_id=message.source_id,
        seen_at=message.timestamp,
        message_id=message.message_id,
    )
    customer = resolution.customer
    changed: list[str] = []
    if message.type == "identify" and message.traits:
        raw_core, custom = split_traits(dict(message.traits))
        core, core_issues = cleanse_core(raw_core)
        reported = {(i.field, i.code) for i in issues}
        issues.extend(i for i in core_issues if (i.field, i.code) not in reported)
        changed = apply_traits(
            customer=customer,
            core=core,
            traits=custom,
            source_id=message.source_id,
            observed_at=message.timestamp,
        )
    record_issues(issues=issues, customer=customer, source_id=message.source_id)
    _, event_created = record_event(
        customer=customer,
        source_id=message.source_id,
        type=message.type,
        name=message.event,
        properties=dict(message.properties),
        context=dict(message.context),
        timestamp=message.timestamp,
        received_at=message.received_at,
        message_id=message.message_id,
    )
    # Live segment membership: only segments whose rules read what changed.
    reevaluate_customers(
        customer_ids=[customer.pk, *resolution.absorbed_ids],
        changes=profile_changes(
            fields=changed,
            event=message.event if event_created else None,
            identities=resolution.new_identities,
            source_id=message.source_id,
            merged=bool(resolution.absorbed_ids),
        ),
    )
    return ProcessResult(
        customer=customer,
        created_profile=resolution.created,
        event_created=event_created,
        merged_ids=resolution.absorbed_ids,
        new_identities=resolution.new_identities,
        changed=tuple(changed),
        issues=tuple(issues),
    )
