"""One file row → one normalized message (identify for customers, track for events).

Values go to the pipeline as they are: it cleanses them, leaves out what it
cannot use and reports each such value as an issue, which ``RowOutcome``
turns back into a warning on the row's column. Only an event row without a
name or with an unreadable time is rejected here; a row with no usable
identifier is rejected by the pipeline.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from customers.services.normalize import Issue, cleanse_core
from sources.contracts import NormalizedMessage
from sources.imports.mapping import CUSTOMERS, IGNORE, Target
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


def expected_issues(message: NormalizedMessage, *, known_types=None) -> list[Issue]:
    """The issues the pipeline reports for a message (``known_types``: the
    identifier type names, read from the database when not given)."""
    issues = collect_identifiers(message, known_types=known_types)[1]
    if message.type == "identify":
        reported = {(i.field, i.code) for i in issues}
        core = cleanse_core(split_traits(dict(message.traits))[0]).issues
        issues.extend(i for i in core if (i.field, i.code) not in reported)
    return issues


def build_message(
    row: Row,
    mapping: dict[str, Target],
    *,
    kind: str,
    source_id: int,
    observed_at: datetime,
) -> RowOutcome:
    outcome = RowOutcome(row=row.number, message=None)

    def issue(severity: str, column: str, value: object, code: str, reason: str) -> None:
        text = cell_text(value)[:MAX_VALUE_IN_REPORT]
        outcome.issues.append(RowIssue(row.number, column, text, severity, code, reason))

    if row.problem:
        issue("error", "", "", "malformed_row", row.problem)
        return outcome
    if row.extra_cells:
        extra_text = ", ".join(cell_text(c) for c in row.extra_cells)
        issue("warning", "", extra_text, "extra_cells", "more cells than header columns")

    core: dict[str, str] = {}
    external_ids: list[tuple[str, str]] = []
    consent: dict[str, bool] = {}
    extra: dict[str, object] = {}
    event_fields: dict[str, tuple[str, str]] = {}
    content: dict[str, object] = {}
    for column, value in row.values.items():
        target = mapping.get(column)
        if target is None:  # a JSON key absent from the sampled headers
            target = Target("trait" if kind == CUSTOMERS else "property", column)
        if target.kind == IGNORE or value in (None, ""):
            continue
        text = cell_text(value)
        if text == "":
            continue
        content[str(target) if target.kind != "id" else f"{target}:{column}"] = text
        if target.kind == "core":
            core[target.name] = text
            outcome.columns[target.name] = column
        elif target.kind == "id":
            external_ids.append((target.name, text))
            outcome.columns[(target.name, text[:500])] = column
        elif target.kind == "event_field":
            event_fields[target.name] = (column, text)
        elif target.kind == "consent":
            answer = consent_answer(text)
            if answer is None:
                issue("warning", column, text, "invalid_consent", f"{text!r} is not yes or no")
            else:
                consent[target.name] = answer
        else:
            extra[target.name] = _json_value(value)

    # a row's values are as of the import, and a later row's win over an
    # earlier one's even when their batches are applied out of order
    timestamp = observed_at + timedelta(microseconds=row.number)
    event_name = ""
    message_type = "identify"
    if kind != CUSTOMERS:
        message_type = "track"
        column, event_name = event_fields.get("event", (_column_of(mapping, "event"), ""))
        if not event_name:
            issue("error", column, "", "missing_event", "the event name is empty")
            return outcome
        if "timestamp" in event_fields:
            column, text = event_fields["timestamp"]
            timestamp = parse_timestamp(text)
            if timestamp is None:
                issue("error", column, text, "invalid_timestamp", f"{text!r} is not a date/time")
                return outcome

    message_id = event_fields.get("message_id", ("", ""))[1] or content_hash(
        source_id=source_id, kind=kind, content=content
    )
    if kind == CUSTOMERS:
        traits = {**extra, **_segment_traits(core)}
    else:
        traits = {k: core[k] for k in ("email", "phone") if k in core}
    outcome.message = NormalizedMessage(
        source_id=source_id,
        message_id=message_id[:200],
        type=message_type,
        timestamp=timestamp,
        received_at=observed_at,
        event=event_name[:200],
        traits=traits,
        properties=extra if kind != CUSTOMERS else {},
        context={"import": {"row": row.number}},
        external_ids=tuple(dict.fromkeys(external_ids)),
        consent=consent,
        consent_method="import" if consent else "",
    )
    return outcome


_YES = frozenset({"yes", "y", "true", "t", "1", "granted", "opt-in", "optin", "opted in", "x"})
_NO = frozenset({"no", "n", "false", "f", "0", "denied", "opt-out", "optout", "opted out"})


def consent_answer(text: str) -> bool | None:
    """Yes/no in a consent column (yes, true, 1, granted, opt-in … / no, false, 0 …)."""
    value = text.strip().lower()
    return True if value in _YES else False if value in _NO else None


def content_hash(*, source_id: int, kind: str, content: dict[str, object]) -> str:
    """The message id of a row: the same mapped content from the same source → the same id."""
    canonical = json.dumps([source_id, kind, sorted(content.items())], ensure_ascii=False)
    return "import-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]


def parse_timestamp(text: str) -> datetime | None:
    try:
        parsed = parse_datetime(text)
    except ValueError:
        return None
    if parsed is None:
        try:
            day = parse_date(text)
        except ValueError:
            return None
        if day is None:
            return None
        parsed = datetime(day.year, day.month, day.day)  # noqa: DTZ001 - made aware below
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_current_timezone())
    return parsed


def _column_of(mapping: dict[str, Target], event_field: str) -> str:
    for column, target in mapping.items():
        if target.kind == "event_field" and target.name == event_field:
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
