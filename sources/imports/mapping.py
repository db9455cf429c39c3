"""Column mapping: which column feeds which profile field, trait, identifier or consent.

A mapping is ``{column header: target}``. Targets of customer files:

* a core field (``email``, ``first_name``, ``postal_code`` …); a street cell of
  two lines fills ``address_line1`` and ``address_line2``;
* ``trait.NAME`` (a custom trait; its values are typed per column, see
  ``sources.imports.cells``), or ``trait.NAME:TYPE`` to force a type
  (``number``, ``boolean``, ``date``, ``month_day`` for ``MM/DD`` birthdays,
  ``text``);
* ``id.TYPE`` — an identifier type, e.g. ``id.external_id``,
  ``id.shopify_customer_id``;
* ``consent.PURPOSE`` — yes/no to a purpose (see ``consent_columns.CONSENT_YES`` and
  ``CONSENT_NO``); ``consent.PURPOSE:inverted`` when yes means no (an opt-out
  column); ``consent.PURPOSE:granted_at`` / ``:withdrawn_at`` — a time column:
  consent given (or withdrawn) then; ``consent_ip`` — where it was given;
* ``address`` — a whole address in one cell: kept as trait ``address_text``,
  and filling the address fields only when the profile holds none of them;
* ``FIELD|trait.NAME`` — the core field when the row has no other value for
  it, else the trait (``phone|trait.mobile``); ``FIELD|ignore`` drops it then;
* ``ignore``.

Event files take ``email``, ``phone``, ``id.TYPE``, ``event``, ``timestamp``,
``message_id``, ``property.NAME[:TYPE]`` and, for order files, ``order_id``
(``order_id.shopify`` for Shopify's order names): consecutive rows of one
order become one event whose ``products`` come from the ``product.NAME``
columns. Known export layouts (``sources.imports.layouts``) and common header
variants are recognised; other columns become custom traits (customer files)
or event properties (event files).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from consent.selectors import active_purpose_codes
from core.errors import DomainError
from customers.models import CORE_FIELDS, IdentifierType
from sources.imports.cells import TYPES
from sources.imports.layouts import detect_layout

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
CONSENT_OPTIONS = ("", "inverted", "granted_at", "withdrawn_at")
ADDRESS_TRAIT = "address_text"
# order files: message id of an order, by the system its order ids come from
ORDER_NAMESPACES = {"": "order", "shopify": "shopify-order"}

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
    "consent.email_marketing": (
        "acceptsemailmarketing",
        "acceptsmarketing",
        "marketingcontactstatus",
        "emailmarketingconsent",
    ),
    "consent.sms_marketing": ("acceptssmsmarketing", "smsmarketingconsent"),
    "consent.email_marketing:inverted": ("emailoptout", "hasoptedoutofemail"),
}
_EVENT_HEADER_VARIANTS: dict[str, tuple[str, ...]] = {
    "event": ("event", "eventname", "action"),
    "timestamp": (
        "timestamp",
        "time",
        "eventtime",
        "occurredat",
        "datetime",
        "date",
        "createdat",
    ),
    "message_id": ("messageid",),
}


class MappingError(DomainError):
    """A column mapping that cannot be used; ``column`` (the field) names the column."""

    def __init__(self, code: str, message: str, column: str = "") -> None:
        super().__init__(code, message, column)

    @property
    def column(self) -> str:
        return self.field


@dataclass(frozen=True)
class Target:
    """What a column feeds.

    ``kind``: core, trait, id, consent, consent_ip, address, either,
    event_field, property, order_id, product or ignore. ``option``: a
    trait's or property's type, a consent column's reading (inverted,
    granted_at, withdrawn_at), the trait an ``either`` column falls back to
    ("" drops it), an order id's namespace.
    """

    kind: str
    name: str = ""
    option: str = ""

    def __str__(self) -> str:
        typed = f":{self.option}" if self.option else ""
        if self.kind in ("trait", "property", "consent"):
            return f"{self.kind}.{self.name}{typed}"
        if self.kind in ("id", "product"):
            return f"{self.kind}.{self.name}"
        if self.kind == "either":
            return f"{self.name}|" + (f"trait.{self.option}" if self.option else IGNORE)
        if self.kind == "order_id":
            return f"order_id.{self.option}" if self.option else "order_id"
        if self.kind in ("consent_ip", "address", IGNORE):
            return self.kind
        return self.name

    @property
    def keys(self) -> tuple[str, ...]:
        """What only one column may feed (two columns of one core field would
        overwrite each other); identifier columns may repeat."""
        if self.kind in ("core", "event_field", "consent_ip", "order_id"):
            return (self.name or self.kind,)
        if self.kind in ("trait", "property", "product"):
            return (f"{self.kind}.{self.name}",)
        if self.kind == "consent":
            reading = self.option if self.option in ("granted_at", "withdrawn_at") else ""
            return (f"consent.{self.name}:{reading}",)
        if self.kind == "address":
            return ("address", f"trait.{ADDRESS_TRAIT}")
        if self.kind == "either" and self.option:
            return (f"trait.{self.option}",)
        return ()


def header_key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def slug(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_") or "column"


def recognise(header: str, *, kind: str) -> str | None:
    key = header_key(header)
    variants = dict(_HEADER_VARIANTS)
    if kind == EVENTS:
        variants = {
            k: v for k, v in variants.items() if k in EVENT_CORE_FIELDS or k.startswith("id.")
        }
        variants.update(_EVENT_HEADER_VARIANTS)
    for target, keys in variants.items():
        if key in keys:
            return target
    return None


def parse_target(
    raw: str,
    *,
    kind: str,
    identifier_types: Collection[str],
    purposes: Callable[[], set[str]] = active_purpose_codes,
    checked: bool = True,
) -> Target:
    """The target a mapping text names; raises MappingError when it names none.

    ``purposes`` gives the active purpose codes. Unless ``checked`` is off,
    identifier types and purposes must exist.
    """
    text = raw.strip()
    if text.lower() in (IGNORE, "-", ""):
        return Target(IGNORE)
    if "|" in text:
        return _either(text, kind=kind)
    head, _, rest = text.partition(".")
    name, _, option = rest.partition(":")
    if head in ("trait", "traits") and name:
        if kind == EVENTS:
            raise MappingError("bad_target", f"{text}: event files carry properties, not traits")
        if name in RESERVED_TRAITS:
            raise MappingError("reserved_trait", f"{text}: map it to the core field instead")
        return Target("trait", name, _value_type(text, option))
    if head in ("property", "properties") and name:
        if kind == CUSTOMERS:
            raise MappingError("bad_target", f"{text}: customer files carry traits")
        return Target("property", name, _value_type(text, option))
    if head == "consent" and name:
        return _consent(text, name, option, kind=kind, purposes=purposes if checked else None)
    if text in ("consent_ip", "address"):
        if kind == EVENTS:
            raise MappingError("bad_target", f"{text}: belongs in customer files")
        return Target(text)
    if head == "id" and name:
        if name in ("email", "phone"):
            return Target("core", name)
        if checked and name not in identifier_types:
            known = ", ".join(sorted(identifier_types))
            raise MappingError("unknown_identifier_type", f"{text}: identifier types: {known}")
        return Target("id", name)
    if head in ("order_id", "product") and kind == CUSTOMERS:
        raise MappingError("bad_target", f"{text}: belongs in event (order) files")
    if head == "order_id":
        if rest not in ORDER_NAMESPACES:
            raise MappingError("bad_target", f"{text}: use order_id or order_id.shopify")
        return Target("order_id", "order_id", rest)
    if head == "product" and name:
        return Target("product", name)
    if kind == EVENTS and text in EVENT_FIELDS:
        return Target("event_field", text)
    if text in CORE_FIELDS:
        if kind == EVENTS and text not in EVENT_CORE_FIELDS:
            raise MappingError("bad_target", f"{text}: event files only use email and phone")
        return Target("core", text)
    raise MappingError("bad_target", f"{text!r} is not a core field, trait.NAME, id.TYPE or ignore")


def _value_type(text: str, option: str) -> str:
    if option and option not in TYPES:
        raise MappingError("bad_target", f"{text}: types are {', '.join(TYPES)}")
    return option


def _consent(text: str, name: str, option: str, *, kind: str, purposes) -> Target:
    if kind == EVENTS:
        raise MappingError("bad_target", f"{text}: consent columns belong in customer files")
    if option not in CONSENT_OPTIONS:
        readings = ", ".join(o for o in CONSENT_OPTIONS if o)
        raise MappingError("bad_target", f"{text}: consent.PURPOSE or consent.PURPOSE:{readings}")
    codes = purposes() if purposes is not None else {name}
    if name not in codes:
        raise MappingError("unknown_purpose", f"{text}: purposes: {', '.join(sorted(codes))}")
    return Target("consent", name, option)


def _either(text: str, *, kind: str) -> Target:
    field_name, _, fallback = (part.strip() for part in text.partition("|"))
    if kind == EVENTS or field_name not in CORE_FIELDS:
        raise MappingError("bad_target", f"{text}: use FIELD|trait.NAME or FIELD|ignore")
    if fallback == IGNORE:
        return Target("either", field_name)
    head, _, name = fallback.partition(".")
    if head != "trait" or not name or ":" in name:
        raise MappingError("bad_target", f"{text}: use FIELD|trait.NAME or FIELD|ignore")
    if name in RESERVED_TRAITS:
        raise MappingError("reserved_trait", f"{text}: {name} is a core field")
    return Target("either", field_name, name)


def default_mapping(
    headers: list[str],
    *,
    kind: str,
    identifier_types: Collection[str] | None = None,
    fixed_event: bool = False,
) -> dict[str, str]:
    """Targets of a known export layout or of recognised header variants; the
    other columns become traits/properties. A layout's identifier types and
    a recognised consent column's purpose must exist (read from the database
    when ``identifier_types`` is not given). With ``fixed_event`` no column
    is taken as the event name."""
    layout = detect_layout(headers, kind=kind)
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    fallback = "trait" if kind == CUSTOMERS else "property"
    purposes = functools.cache(active_purpose_codes)
    for header in headers:
        target = layout.target(header) if layout else None
        checked = target is not None
        if target is None:
            target = recognise(header, kind=kind)
            checked = target is not None and target.startswith("consent.")
        if target == "event" and fixed_event:
            target = None
        try:
            parsed = target and parse_target(
                target,
                kind=kind,
                identifier_types=identifier_types or _identifier_types(checked, target),
                purposes=purposes,
                checked=checked,
            )
        except MappingError:  # missing here: an identifier type or purpose
            parsed = None
        if not parsed or any(key in taken for key in parsed.keys):
            base = slug(header)
            target, suffix = f"{fallback}.{base}", 1
            while target in taken or target.partition(".")[2] in RESERVED_TRAITS:
                suffix += 1
                target = f"{fallback}.{base}_{suffix}"
            taken.add(target)
        else:
            taken.update(parsed.keys)
        mapping[header] = target
    return mapping


def _identifier_types(checked: bool, target: str) -> set[str]:
    if not (checked and target.startswith("id.")):
        return set()

    return set(IdentifierType.objects.values_list("name", flat=True))


def build_mapping(
    headers: list[str],
    *,
    kind: str,
    overrides: dict[str, str],
    identifier_types: set[str],
    event_name: str = "",
) -> dict[str, Target]:
    """The full, validated mapping: defaults with the person's choices on top.

    ``event_name``: every row's event name (event files), instead of a column.
    """
    if kind not in KINDS:
        raise MappingError("bad_kind", f"{kind!r}: use one of {', '.join(KINDS)}")
    unknown = [column for column in overrides if column not in headers]
    if unknown:
        raise MappingError(
            "unknown_column", f"no column named {unknown[0]!r} in the file", column=unknown[0]
        )
    defaults = default_mapping(
        headers, kind=kind, identifier_types=identifier_types, fixed_event=bool(event_name)
    )
    raw = {**defaults, **overrides}
    mapping: dict[str, Target] = {}
    single: dict[str, str] = {}
    purposes = functools.cache(active_purpose_codes)
    for column, text in raw.items():
        try:
            target = parse_target(
                text, kind=kind, identifier_types=identifier_types, purposes=purposes
            )
        except MappingError as exc:
            raise MappingError(exc.code, f"column {column!r}: {exc.message}", column) from None
        for key in target.keys:
            if key in single:
                raise MappingError(
                    "duplicate_target",
                    f"columns {single[key]!r} and {column!r} both map to {key}",
                    column,
                )
            single[key] = column
        mapping[column] = target
    _check_events(mapping, kind=kind, event_name=event_name)
    return mapping


def _check_events(mapping: dict[str, Target], *, kind: str, event_name: str) -> None:
    kinds = {target.kind for target in mapping.values()}
    names = {target.name for target in mapping.values() if target.kind == "event_field"}
    if kind == CUSTOMERS:
        if event_name:
            raise MappingError("bad_option", "a fixed event name is for event files")
        return
    if event_name and "event" in names:
        column = next(
            c for c, t in mapping.items() if t.kind == "event_field" and t.name == "event"
        )
        raise MappingError(
            "duplicate_target", f"column {column!r} and the fixed event name both name the event"
        )
    if "product" in kinds and "order_id" not in kinds:
        raise MappingError("missing_order_column", "product columns need an order_id column")
    if "order_id" in kinds and "message_id" in names:
        raise MappingError("duplicate_target", "an order's id is its message id: drop message_id")
    if not event_name and "event" not in names and "order_id" not in kinds:
        raise MappingError(
            "missing_event_column",
            "map one column to event (the event name) or give every row one event name",
        )


def mapping_to_json(mapping: dict[str, Target]) -> dict[str, str]:
    return {column: str(target) for column, target in mapping.items()}
