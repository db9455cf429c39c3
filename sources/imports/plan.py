"""The import plan: the mapping, and what one pass over the file learnt about its columns.

Before a file is imported (or previewed) it is read once: its records are
counted (an order file's rows of one order count once), each custom-trait
column gets its type, and each column that may hold dates its date order
(``sources.imports.cells``); the job's ``date_order`` (DMY or MDY), when
chosen, overrides what the columns suggest. ``ImportPlan`` carries all of
it to ``rows.build_message``; it is a frozen, picklable value, handed to
every batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

from segments.purchases import purchase_event
from sources.imports.cells import ColumnSurvey, unguard
from sources.imports.mapping import CUSTOMERS, Target, build_mapping
from sources.imports.orders import group_orders
from sources.imports.reading import Row, cell_text

# core fields and event fields whose values may be written as dates
_DATE_FIELDS = ("birthday", "timestamp")


@dataclass(frozen=True)
class ImportPlan:
    kind: str
    targets: dict[str, Target]
    # every row's event name (event files), when no column gives it
    event_name: str = ""
    # column → type of its values (custom traits and event properties)
    types: dict[str, str] = field(default_factory=dict)
    # column → DMY or MDY (how its a/b/yyyy dates are written)
    date_orders: dict[str, str] = field(default_factory=dict)
    # records in the file (an order's rows count once)
    records: int = 0

    # worked out once per plan (per batch), not per row

    @cached_property
    def order_column(self) -> str | None:
        for column, target in self.targets.items():
            if target.kind == "order_id":
                return column
        return None

    @cached_property
    def content_keys(self) -> dict[str, str]:
        """column → what its value is called in a row's content (``rows.content_hash``)."""
        return {column: content_key(column, target) for column, target in self.targets.items()}

    @cached_property
    def product_columns(self) -> dict[str, str]:
        """column → the product field it fills (order files)."""
        return {c: t.name for c, t in self.targets.items() if t.kind == "product"}

    @cached_property
    def event_column(self) -> str:
        """The column giving each row's event name ("" when none does)."""
        for column, target in self.targets.items():
            if target.kind == "event_field" and target.name == "event":
                return column
        return ""

    def read(self, rows: Iterable[Row]) -> Iterator[Row]:
        """The file's records: its rows, or an order file's orders."""
        column = self.order_column
        return group_orders(rows, column) if column else iter(rows)

    def notes(self) -> dict[str, str]:
        """column → how its values are read ("number", "MDY", "date, DMY" …)."""
        notes = {}
        for column in self.targets:
            value_type = self.types.get(column, "")
            parts = [p for p in (value_type, self.date_orders.get(column, "")) if p]
            if parts and parts != ["text"]:
                notes[column] = ", ".join(p for p in parts if p != "text")
        return notes


def plan_import(
    *,
    headers: list[str],
    kind: str,
    overrides: dict[str, str],
    identifier_types: set[str],
    rows: Callable[[], Iterator[Row]],
    event_name: str = "",
    date_order: str = "",
) -> ImportPlan:
    """Validate the mapping and read the file once (``rows`` gives a fresh
    iterator over its rows). Raises MappingError for a bad mapping."""
    targets = build_mapping(
        headers,
        kind=kind,
        overrides=overrides,
        identifier_types=identifier_types,
        event_name=event_name,
    )
    plan = ImportPlan(kind=kind, targets=targets)
    surveys = {
        column: survey
        for column, target in targets.items()
        if (survey := _survey_for(target)).typed or survey.dated
    }
    count = 0
    for record in plan.read(rows()):
        count += 1
        for column, value in record.values.items():
            survey = surveys.get(column)
            if survey is not None and value not in (None, ""):
                survey.add(unguard(cell_text(value)))
    types = {}
    for column, target in targets.items():
        if target.kind in ("trait", "property"):
            types[column] = target.option or (
                surveys[column].type if target.kind == "trait" else ""
            )
    # date orders matter where dates are read: core dates, times, date traits
    dated = [
        column
        for column, survey in surveys.items()
        if survey.dated and types.get(column, "date") == "date"
    ]
    orders = {column: date_order or surveys[column].order for column in dated}
    if kind != CUSTOMERS and not event_name and plan.order_column:
        event_name = purchase_event()
    return ImportPlan(
        kind=kind,
        targets=targets,
        event_name=event_name,
        types={column: kind for column, kind in types.items() if kind},
        date_orders={column: order for column, order in orders.items() if order},
        records=count,
    )


def content_key(column: str, target: Target) -> str:
    """What a column's value is called in a row's content: its target (an
    identifier column's with the column's name: several may feed one type)."""
    return str(target) if target.kind != "id" else f"{target}:{column}"


def _survey_for(target: Target) -> ColumnSurvey:
    typed = target.kind == "trait" and not target.option
    dated = (
        typed
        or target.name in _DATE_FIELDS
        or target.option in ("date", "granted_at", "withdrawn_at")
    )
    return ColumnSurvey(typed=typed, dated=dated)


def sample_values(rows: Iterable[Row], *, per_column: int = 2, max_rows: int = 1000):
    """The first ``per_column`` non-empty values of each column (from the
    first ``max_rows`` rows), for the preview."""
    samples: dict[str, list[str]] = {}
    for index, row in enumerate(rows):
        if index >= max_rows:
            break
        for column, value in row.values.items():
            text = unguard(cell_text(value))
            found = samples.setdefault(column, [])
            if text and len(found) < per_column:
                found.append(text)
    return samples
