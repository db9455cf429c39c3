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

from django.conf import settings

from customers.services.normalize import Issue, cleanse_core
from customers.services.values import iso_date, read_boolean, read_number
from sources.contracts import ConsentAnswer, NormalizedMessage
from sources.imports.cells import read_month_day, read_timestamp, unguard
from sources.imports.mapping import ADDRESS_TRAIT, CUSTOMERS, IGNORE, ORDER_NAMESPACES, Target
from sources.imports.orders import OrderRows
from sources.imports.plan import ImportPlan
from sources.imports.reading import Row, cell_text
from sources.pipeline import collect_identifiers, split_traits

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
# Segment's e-commerce spec: properties that are numbers (quantity: a whole one);
# the purchase's revenue properties (settings) are numbers too
SPEC_NUMBERS = frozenset(
    {"revenue", "total", "subtotal", "shipping", "tax", "discount", "value", "price"}
)
SPEC_INTEGERS = frozenset({"quantity", "position"})
# yes/no in consent columns, as the tools that export them write it
CONSENT_YES = frozenset(
    {"yes", "y", "true", "t", "1", "granted", "subscribed", "opted in", "opt-in", "optin"}
    | {"opted-in", "x", "marketing contact"}
)
CONSENT_NO = frozenset(
    {"no", "n", "false", "f", "0", "denied", "unsubscribed", "opted out", "opt-out", "optout"}
    | {"opted-out", "non-marketing contact"}
)


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
    answers: dict[str, tuple[str, bool]] = field(default_factory=dict)
    consent_times: dict[tuple[str, str], tuple[str, datetime]] = field(default_factory=dict)
    consent_ip: str = ""
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
        code = "order_rows_apart" if isinstance(row, OrderRows) else "malformed_row"
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
        column, event_name = found.event_fields.get(
            "event", (_column_of(plan, "event_field", "event"), plan.event_name)
        )
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
            if _has_product_columns(plan):
                properties["products"] = _products(row, plan, outcome)

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
        consent=_consent(found, timestamp=timestamp, outcome=outcome),
        consent_method="import" if found.answers or found.consent_times else "",
        address_if_unset=address_if_unset,
    )
    return outcome


def _read_values(row: Row, plan: ImportPlan, *, kind: str, outcome: RowOutcome) -> _Values:
    found = _Values()
    for column, value in row.values.items():
        target = plan.targets.get(column)
        if target is None:  # a JSON key absent from the sampled headers
            target = Target("trait" if kind == CUSTOMERS else "property", column)
        if target.kind in (IGNORE, "product") or value in (None, ""):
            continue
        text = unguard(cell_text(value))
        if text == "":
            continue
        content_key = str(target) if target.kind != "id" else f"{target}:{column}"
        found.content[content_key] = text
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
            _read_consent(found, target, column, text, plan=plan, outcome=outcome)
        elif target.kind == "consent_ip":
            found.consent_ip = text
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
        numbers = SPEC_NUMBERS | SPEC_INTEGERS | set(settings.TRIBUTARY_PURCHASE_REVENUE_PROPERTIES)
        value_type = "number" if target.name in numbers else "text"
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


def _read_consent(found, target, column, text, *, plan, outcome) -> None:
    if target.option in ("granted_at", "withdrawn_at"):
        at = read_timestamp(text, order=plan.date_orders.get(column, ""))
        if at is None:
            outcome.warn(column, text, "invalid_consent_time", f"{text!r} is not a date/time")
        else:
            found.consent_times[(target.name, target.option)] = (column, at)
        return
    answer = consent_answer(text)
    if answer is None:
        outcome.warn(column, text, "invalid_consent", f"{text!r} is not yes or no")
        return
    found.answers[target.name] = (column, answer != (target.option == "inverted"))


def _consent(found: _Values, *, timestamp: datetime, outcome) -> dict[str, ConsentAnswer]:
    """Each purpose's answer: a yes/no column's, given at the row's opt-in or
    opt-out time when the file has one; else the time columns' (a withdrawal
    time wins over an opt-in time)."""
    consent: dict[str, ConsentAnswer] = {}
    purposes = {p for p, _ in found.consent_times} | set(found.answers)
    for purpose in purposes:
        granted_at = found.consent_times.get((purpose, "granted_at"))
        withdrawn_at = found.consent_times.get((purpose, "withdrawn_at"))
        if purpose in found.answers:
            granted = found.answers[purpose][1]
            when = granted_at if granted else withdrawn_at
            consent[purpose] = ConsentAnswer(
                granted, at=when[1] if when else None, ip=found.consent_ip
            )
        elif withdrawn_at:
            consent[purpose] = ConsentAnswer(
                False, at=withdrawn_at[1], ip=found.consent_ip, withdrawal=True
            )
        elif granted_at:
            consent[purpose] = ConsentAnswer(True, at=granted_at[1], ip=found.consent_ip)
    return consent


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


def _products(row: Row, plan: ImportPlan, outcome: RowOutcome) -> list[dict[str, object]]:
    """One product per line of the order (Segment's ``products`` array)."""
    columns = {c: t for c, t in plan.targets.items() if t.kind == "product"}
    lines = row.lines if isinstance(row, OrderRows) else (row,)
    products = []
    for line in lines:
        product: dict[str, object] = {}
        for column, target in columns.items():
            value = line.values.get(column)
            text = unguard(cell_text(value))
            if not text:
                continue
            if target.name in SPEC_INTEGERS:
                number = read_number(text)
                if not isinstance(number, int):
                    outcome.warn(
                        column,
                        text,
                        "invalid_number",
                        f"{text!r} is not a whole number",
                        row=line.number,
                    )
                    continue
                product[target.name] = number
            elif target.name in SPEC_NUMBERS:
                number = read_number(text)
                if number is None:
                    outcome.warn(
                        column, text, "invalid_number", f"{text!r} is not a number", row=line.number
                    )
                    continue
                product[target.name] = number
            else:
                product[target.name] = text
        if product:
            products.append(product)
    return products


def _has_product_columns(plan: ImportPlan) -> bool:
    return any(t.kind == "product" for t in plan.targets.values())


def consent_answer(text: str) -> bool | None:
    """Yes/no in a consent column (yes, y, true, 1, subscribed, opted in … / no, n,
    false, 0, unsubscribed, opted out …; HubSpot's marketing contact status)."""
    value = " ".join(text.strip().lower().split())
    return True if value in CONSENT_YES else False if value in CONSENT_NO else None


def content_hash(*, source_id: int, kind: str, content: dict[str, object]) -> str:
    """The message id of a row: the same mapped content from the same source → the same id."""
    canonical = json.dumps([source_id, kind, sorted(content.items())], ensure_ascii=False)
    return "import-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]


def _column_of(plan: ImportPlan, kind: str, name: str) -> str:
    for column, target in plan.targets.items():
        if target.kind == kind and target.name == name:
            return column
    return ""


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
