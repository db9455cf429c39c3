"""Column mapping: which column feeds which profile field, trait or identifier.

A mapping is ``{column header: target}``. Targets are a core field name
(``email``, ``first_name``, ``postal_code`` …), ``trait.NAME``, ``id.TYPE``
(an identifier type, e.g. ``id.external_id``), ``consent.PURPOSE`` (a purpose
code; yes/no values record consent given or refused) or ``ignore``. Event files also
take ``event``, ``timestamp``, ``message_id`` and ``property.NAME``. Common
header variants are recognised; other columns become custom traits (customer
files) or event properties (event files).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from consent.selectors import active_purpose_codes
from customers.models import CORE_FIELDS

CUSTOMERS = "customers"
EVENTS = "events"
KINDS = (CUSTOMERS, EVENTS)
IGNORE = "ignore"
EVENT_FIELDS = ("event", "timestamp", "message_id")
# core fields an event row may carry: they identify the person, nothing more
EVENT_CORE_FIELDS = ("email", "phone")
# trait names the pipeline reads as core fields (Segment's reserved traits)
RESERVED_TRAITS = frozenset(
    {"email", "phone", "firstName", "first_name", "lastName", "last_name", "birthday"}
    | {"address", "company"}
)

_HEADER_VARIANTS: dict[str, tuple[str, ...]] = {
    "email": ("email", "emailaddress", "mail", "emailaddr", "mailaddress"),
    "phone": (
        "phone",
        "phonenumber",
        "phoneno",
        "telephone",
        "tel",
        "mobile",
        "mobilephone",
        "mobilenumber",
        "cell",
        "cellphone",
    ),
    "first_name": ("firstname", "first", "givenname", "forename", "fname", "vorname"),
    "last_name": ("lastname", "last", "surname", "familyname", "lname", "nachname"),
    "birthday": ("birthday", "dob", "dateofbirth", "birthdate", "bday"),
    "address_line1": ("address", "address1", "addressline1", "street", "streetaddress"),
    "address_line2": ("address2", "addressline2"),
    "city": ("city", "town", "locality"),
    "region": ("region", "state", "province", "county"),
    "postal_code": ("zip", "zipcode", "postcode", "postalcode", "plz"),
    "country": ("country", "countrycode"),
    "company": ("company", "companyname", "organization", "organisation", "employer"),
    "id.user_id": ("userid",),
    "id.anonymous_id": ("anonymousid",),
    "id.external_id": ("externalid", "crmid"),
}
_EVENT_HEADER_VARIANTS: dict[str, tuple[str, ...]] = {
    "event": ("event", "eventname", "action"),
    "timestamp": ("timestamp", "time", "eventtime", "occurredat", "datetime", "date"),
    "message_id": ("messageid",),
}


class MappingError(Exception):
    def __init__(self, code: str, message: str, column: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.column = column


@dataclass(frozen=True)
class Target:
    """What a column feeds: ``kind`` is core, trait, id, event_field, property or ignore."""

    kind: str
    name: str

    def __str__(self) -> str:
        prefix = {"trait": "trait.", "id": "id.", "property": "property.", "consent": "consent."}
        prefix = prefix.get(self.kind, "")
        return IGNORE if self.kind == IGNORE else f"{prefix}{self.name}"


def header_key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def slug(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_") or "column"


def recognise(header: str, *, kind: str) -> str | None:
    key = header_key(header)
    variants = dict(_HEADER_VARIANTS)
    if kind == EVENTS:
        variants = {k: v for k, v in variants.items() if k in EVENT_CORE_FIELDS or "." in k}
        variants.update(_EVENT_HEADER_VARIANTS)
    for target, keys in variants.items():
        if key in keys:
            return target
    return None


def parse_target(raw: str, *, kind: str, identifier_types: set[str]) -> Target:
    text = raw.strip()
    if text.lower() in (IGNORE, "-", ""):
        return Target(IGNORE, "")
    head, _, name = text.partition(".")
    if head in ("trait", "traits") and name:
        if kind == EVENTS:
            raise MappingError("bad_target", f"{text}: event files carry properties, not traits")
        if name in RESERVED_TRAITS:
            raise MappingError("reserved_trait", f"{text}: map it to the core field instead")
        return Target("trait", name)
    if head in ("property", "properties") and name:
        if kind == CUSTOMERS:
            raise MappingError("bad_target", f"{text}: customer files carry traits")
        return Target("property", name)
    if head == "consent" and name:
        if kind == EVENTS:
            raise MappingError("bad_target", f"{text}: consent columns belong in customer files")
        codes = active_purpose_codes()
        if name not in codes:
            raise MappingError("unknown_purpose", f"{text}: purposes: {', '.join(sorted(codes))}")
        return Target("consent", name)
    if head == "id" and name:
        if name in ("email", "phone"):
            return Target("core", name)
        if name not in identifier_types:
            known = ", ".join(sorted(identifier_types))
            raise MappingError("unknown_identifier_type", f"{text}: identifier types: {known}")
        return Target("id", name)
    if kind == EVENTS and text in EVENT_FIELDS:
        return Target("event_field", text)
    if text in CORE_FIELDS:
        if kind == EVENTS and text not in EVENT_CORE_FIELDS:
            raise MappingError("bad_target", f"{text}: event files only use email and phone")
        return Target("core", text)
    raise MappingError("bad_target", f"{text!r} is not a core field, trait.NAME, id.TYPE or ignore")


def default_mapping(headers: list[str], *, kind: str) -> dict[str, str]:
    """Recognised targets for known header variants; the rest become traits/properties."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    fallback = "trait" if kind == CUSTOMERS else "property"
    for header in headers:
        target = recognise(header, kind=kind)
        if target is None or (target in taken and not target.startswith("id.")):
            base = slug(header)
            target, suffix = f"{fallback}.{base}", 1
            while target in taken or target.partition(".")[2] in RESERVED_TRAITS:
                suffix += 1
                target = f"{fallback}.{base}_{suffix}"
        taken.add(target)
        mapping[header] = target
    return mapping


def build_mapping(
    headers: list[str],
    *,
    kind: str,
    overrides: dict[str, str],
    identifier_types: set[str],
) -> dict[str, Target]:
    """The full, validated mapping: defaults with the person's choices on top."""
    if kind not in KINDS:
        raise MappingError("bad_kind", f"{kind!r}: use one of {', '.join(KINDS)}")
    unknown = [column for column in overrides if column not in headers]
    if unknown:
        raise MappingError(
            "unknown_column", f"no column named {unknown[0]!r} in the file", column=unknown[0]
        )
    raw = {**default_mapping(headers, kind=kind), **overrides}
    mapping: dict[str, Target] = {}
    single: dict[str, str] = {}
    for column, text in raw.items():
        try:
            target = parse_target(text, kind=kind, identifier_types=identifier_types)
        except MappingError as exc:
            raise MappingError(exc.code, f"column {column!r}: {exc.message}", column) from None
        if target.kind in ("core", "event_field", "trait", "property", "consent"):
            key = str(target)
            if key in single:
                raise MappingError(
                    "duplicate_target",
                    f"columns {single[key]!r} and {column!r} both map to {key}",
                    column,
                )
            single[key] = column
        mapping[column] = target
    if kind == EVENTS and "event" not in single:
        raise MappingError("missing_event_column", "map one column to event (the event name)")
    return mapping


def mapping_to_json(mapping: dict[str, Target]) -> dict[str, str]:
    return {column: str(target) for column, target in mapping.items()}
