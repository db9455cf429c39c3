"""One file record → one normalized message (identify for customers, track for events).

Values go to the pipeline as they are: it cleanses them, leaves out what it
cannot use and reports each such value as an issue, which ``RowOutcome``
turns back into a warning on the row's column. What only the file can tell
is read here: Excel's ``'`` text guard is dropped from every cell, dates are
read in their column's order, custom traits get their column's type, consent
columns their yes/no (an unreadable answer is a warning), an order's rows
become one event with its products. Only an event row without a name or with
an unreadable time is rejected here; a row with no usable identifier is
rejected by the pipeline.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from customers.services.normalize import Issue, cleanse_core
from customers.services.reserved_traits import split_traits
from customers.services.values import iso_date, read_boolean, read_number
from sources.contracts import NormalizedMessage
from sources.imports.cells import read_month_day, read_timestamp, unguard
from sources.imports.consent_columns import RowConsent
from sources.imports.mapping import ADDRESS_TRAIT, CUSTOMERS, IGNORE, ORDER_NAMESPACES, Target
from sources.imports.orders import OrderRows, is_spec_number, order_products
from sources.imports.plan import ImportPlan, content_key
from sources.imports.reading import Row, cell_text
from sources.pipeline import collect_identifiers

MAX_VALUE_IN_REPORT = 500
# core field → where it goes in Segment-shaped traits
_TRAIT_PATHS = {
    "email": ("email",),
    "phone": ("phone",),
    "first_name": ("first_name",),
    "last_name": ("last_name",),
    "birthday": ("birthday",),
    "address_line1": ("address", "street"),
    "address_line2": ("address", "street2"),
    "city": ("address", "city"),
    "region": ("address", "state"),
    "postal_code": ("address", "postalCode"),
    "country": ("address", "country"),
    "company": ("company", "name"),
}


@dataclass(frozen=True)
class RowIssue:
    row: int
    column: str
    value: str
    severity: str  # "error" rejects the row, "warning" leaves one value out
    code: str
    reason: str


@dataclass
class RowOutcome:
    row: int
    message: NormalizedMessage | None
    issues: list[RowIssue] = field(default_factory=list)
    # which column a pipeline issue is about: core field or (id type, raw value)
    columns: dict[object, str] = field(default_factory=dict)

    def add_pipeline_issues(self, issues: tuple[Issue, ...] | list[Issue]) -> None:
        for issue in issues:
            column = self.columns.get((issue.field, issue.value)) or self.columns.get(
                issue.field, ""
            )
            value = issue.value[:MAX_VALUE_IN_REPORT]
            self.issues.append(
                RowIssue(self.row, column, value, "warning", issue.code, issue.message)
            )

    def reject(self, code: str, reason: str) -> None:
        self.issues.append(RowIssue(self.row, "", "", "error", code, reason))
        self.message = None

    def warn(self, column: str, value: object, code: str, reason: str, *, row: int = 0) -> None:
        """A value left out (``row``: the file row, when not the record's first)."""
        text = cell_text(value)[:MAX_VALUE_IN_REPORT]
        self.issues.append(RowIssue(row or self.row, column, text, "warning", code, reason))

    def refuse(self, column: str, value: object, code: str, reason: str) -> None:
        """The whole record rejected because of one of its values."""
        text = cell_text(value)[:MAX_VALUE_IN_REPORT]
        self.issues.append(RowIssue(self.row, column, text, "error", code, reason))
        self.message = None


def expected_issues(message: NormalizedMessage, *, known_types=None) -> list[Issue]:
    """The issues the pipeline reports for a message (``known_types``: the
    identifier type names, read from the database when not given)."""
    issues = collect_identifiers(message, known_types=known_types)[1]
    if message.type == "identify":
        reported = {(i.field, i.code) for i in issues}
        core = cleanse_core(split_traits(dict(message.traits))[0]).issues
        issues.extend(i for i in core if (i.field, i.code) not in reported)
    return issues


@dataclass
class _Values:
    """A record's values by what they feed."""

    core: dict[str, str] = field(default_factory=dict)
    either: list[tuple[Target, str, str]] = field(default_factory=list)
    external_ids: list[tuple[str, str]] = field(default_factory=list)
    consent: RowConsent = field(default_factory=RowConsent)
    address: str = ""
    extra: dict[str, object] = field(default_factory=dict)
    event_fields: dict[str, tuple[str, str]] = field(default_factory=dict)
    order_id: str = ""
    content: dict[str, object] = field(default_factory=dict)


def build_message(
    row: Row,
    plan: ImportPlan,
    *,
    kind: str,
    source_id: int,
    observed_at: datetime,
) -> RowOutcome:
    outcome = RowOutcome(row=row.number, message=None)
    if row.problem:
        code = row.code if isinstance(row, OrderRows) and row.code else "malformed_row"
        outcome.refuse("", "", code, row.problem)
        return outcome
    if row.extra_cells:
        extra_text = ", ".join(cell_text(c) for c in row.extra_cells)
        outcome.warn("", extra_text, "extra_cells", "more cells than header columns")

    found = _read_values(row, plan, kind=kind, outcome=outcome)
    _resolve_either(found, outcome)
    _split_street(found.core)

    # a row's values are as of the import, and a later row's win over an
    # earlier one's even when their batches are applied out of order
    timestamp = observed_at + timedelta(microseconds=row.number)
    event_name = ""
    message_type = "identify"
    properties: dict[str, object] = {}
    if kind != CUSTOMERS:
        message_type = "track"
        column, event_name = found.event_fields.get("event", (plan.event_column, plan.event_name))
        if not event_name:
            outcome.refuse(column, "", "missing_event", "the event name is empty")
            return outcome
        if "timestamp" in found.event_fields:
            column, text = found.event_fields["timestamp"]
            timestamp = read_timestamp(text, order=plan.date_orders.get(column, ""))
            if timestamp is None:
                outcome.refuse(column, text, "invalid_timestamp", f"{text!r} is not a date/time")
                return outcome
        properties = dict(found.extra)
        if plan.order_column:
            if not found.order_id:
                reason = "the order id is empty"
                outcome.refuse(plan.order_column, "", "missing_order_id", reason)
                return outcome
            properties["order_id"] = found.order_id
            products = plan.product_columns
            if products:
                properties["products"] = order_products(row, products, warn=outcome.warn)

    message_id = found.event_fields.get("message_id", ("", ""))[1] or content_hash(
        source_id=source_id, kind=kind, content=found.content
    )
    if plan.order_column and found.order_id:
        namespace = plan.targets[plan.order_column].option
        message_id = f"{ORDER_NAMESPACES[namespace]}:{found.order_id}"
    address_if_unset: dict[str, str] = {}
    if kind == CUSTOMERS:
        traits = {**found.extra, **_segment_traits(found.core)}
        if found.address:
            traits[ADDRESS_TRAIT] = found.address
            if "address_line1" not in found.core:  # else the row's own street wins
                address_if_unset = split_address(found.address)
    else:
        traits = {k: found.core[k] for k in ("email", "phone") if k in found.core}
    outcome.message = NormalizedMessage(
        source_id=source_id,
        message_id=message_id[:200],
        type=message_type,
        timestamp=timestamp,
        received_at=observed_at,
        event=event_name[:200],
        traits=traits,
        properties=properties,
        context={"import": {"row": row.number}},
        external_ids=tuple(dict.fromkeys(found.external_ids)),
        consent=found.consent.by_purpose(),
        consent_method="import" if found.consent else "",
        address_if_unset=address_if_unset,
    )
    return outcome


def _read_values(row: Row, plan: ImportPlan, *, kind: str, outcome: RowOutcome) -> _Values:
    found = _Values()
    targets, keys = plan.targets, plan.content_keys
    for column, value in row.values.items():
        target = targets.get(column)
        if target is None:  # a JSON key absent from the sampled headers
            target = Target("trait" if kind == CUSTOMERS else "property", column)
        if target.kind in (IGNORE, "product") or value in (None, ""):
            continue
        text = unguard(cell_text(value))
        if text == "":
            continue
        found.content[keys.get(column) or content_key(column, target)] = text
        if target.kind == "core":
            order = plan.date_orders.get(column, "")
            if target.name == "birthday" and order:
                day = iso_date(text, order=order)
                if day is None:
                    outcome.warn(column, text, "invalid_date", f"{text!r} is not a {order} date")
                    continue
                text = day
            found.core[target.name] = text
            outcome.columns[target.name] = column
        elif target.kind == "either":
            found.either.append((target, column, text))
        elif target.kind == "id":
            found.external_ids.append((target.name, text))
            outcome.columns[(target.name, text[:500])] = column
        elif target.kind == "event_field":
            found.event_fields[target.name] = (column, text)
        elif target.kind == "order_id":
            found.order_id = text
        elif target.kind == "consent":
            found.consent.read(
                target.name,
                target.option,
                text,
                order=plan.date_orders.get(column, ""),
                warn=lambda code, reason, column=column, text=text: outcome.warn(
                    column, text, code, reason
                ),
            )
        elif target.kind == "consent_ip":
            found.consent.ip = text
        elif target.kind == "address":
            found.address = text
        else:
            typed = _typed(value, text, plan, column, target, outcome=outcome, row=row.number)
            if typed is not None:
                found.extra[target.name] = typed
    return found


def _typed(value, text, plan, column, target, *, outcome, row) -> object | None:
    """A trait's or property's value as its column's type; None when the
    value does not read as that type (a warning says so)."""
    value_type = plan.types.get(column, "")
    if target.kind == "property" and not value_type:
        value_type = "number" if is_spec_number(target.name) else "text"
    if value_type in ("", "text"):
        return text if isinstance(value, str) else _json_value(value)
    readers = {
        "number": lambda: read_number(text),
        "boolean": lambda: read_boolean(text),
        "date": lambda: iso_date(text, order=plan.date_orders.get(column, "")),
        "month_day": lambda: read_month_day(text),
    }
    typed = readers[value_type]()
    if typed is None:
        outcome.warn(
            column,
            text,
            f"invalid_{value_type}",
            f"{text!r} is not a {_LABELS[value_type]}",
            row=row,
        )
    return typed


_LABELS = {"number": "number", "boolean": "yes/no value", "date": "date", "month_day": "month/day"}


def _resolve_either(found: _Values, outcome: RowOutcome) -> None:
    """``FIELD|trait.NAME`` columns: the field when the row has no other value
    for it, else the trait (or nothing)."""
    for target, column, text in found.either:
        if target.name not in found.core:
            found.core[target.name] = text
            outcome.columns[target.name] = column
        elif target.option:
            found.extra[target.option] = text


def _split_street(core: dict[str, str]) -> None:
    """A street written on two lines fills address lines 1 and 2."""
    street = core.get("address_line1", "")
    if "\n" in street and not core.get("address_line2"):
        first, _, rest = street.partition("\n")
        core["address_line1"] = first.strip()
        second = ", ".join(line.strip() for line in rest.splitlines() if line.strip())
        if second:
            core["address_line2"] = second


def split_address(text: str) -> dict[str, str]:
    """A one-cell address as exported by Mailchimp (parts separated by two
    spaces: street, [street 2,] city, state, zip, country) as address
    fields; {} when it is not written that way."""
    parts = [part.strip() for part in re.split(r"\s{2,}|\n", text.strip()) if part.strip()]
    if len(parts) == 6:
        names = ("address_line1", "address_line2", "city", "region", "postal_code", "country")
    elif len(parts) == 5:
        names = ("address_line1", "city", "region", "postal_code", "country")
    else:
        return {}
    return dict(zip(names, parts, strict=True))


def content_hash(*, source_id: int, kind: str, content: dict[str, object]) -> str:
    """The message id of a row: the same mapped content from the same source → the same id."""
    canonical = json.dumps([source_id, kind, sorted(content.items())], ensure_ascii=False)
    return "import-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]


def _segment_traits(clean: dict[str, str]) -> dict[str, object]:
    traits: dict[str, object] = {}
    for name, value in clean.items():
        path = _TRAIT_PATHS[name]
        if len(path) == 1:
            traits[path[0]] = value
        else:
            traits.setdefault(path[0], {})[path[1]] = value  # type: ignore[index]
    return traits


def _json_value(value: object) -> object:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (int, float, bool, dict, list)):
        return value
    if isinstance(value, (date, datetime, Decimal)):
        return cell_text(value)
    return str(value)
