"""Order files: the rows of one order (one line item each) become one record.

Shop exports write an order as consecutive rows with the same order id
(Shopify's ``Name``, ``#1001``): the first carries the order's totals and
times, every row one line item. ``group_orders`` streams such a file as
orders (``OrderRows``): the order-level values are the first non-empty
value of each column, the rows are kept for their line items. Rows of one
order that are not next to each other cannot be streamed as one order: the
later ones come back as an order with a ``problem`` (the row is rejected
with the reason), never silently merged or dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from customers.services.values import read_number
from segments.purchases import REVENUE_PROPERTIES
from sources.imports.cells import unguard
from sources.imports.reading import Row, cell_text

# Segment's e-commerce spec: properties that are numbers (quantity: a whole one)
SPEC_NUMBERS = frozenset(
    {"revenue", "total", "subtotal", "shipping", "tax", "discount", "value", "price"}
)
SPEC_INTEGERS = frozenset({"quantity", "position"})
# line items one order may have (its rows are held in memory until it ends)
MAX_LINES = 1000


def is_spec_number(name: str) -> bool:
    """A property the spec (or the purchase's revenue setting) says is a number."""
    return name in SPEC_NUMBERS or name in SPEC_INTEGERS or name in REVENUE_PROPERTIES


@dataclass(frozen=True)
class OrderRows(Row):
    """One order: ``values`` per column over its rows, ``lines`` the rows
    themselves; ``code`` says why it is refused, with ``problem``."""

    lines: tuple[Row, ...] = ()
    code: str = ""


def group_orders(rows: Iterable[Row], column: str) -> Iterator[Row]:
    """Consecutive rows with the same value in ``column`` as one ``OrderRows``;
    rows without an order id, or unreadable, pass through alone. An order of
    more than ``MAX_LINES`` rows is refused row by row (memory stays flat);
    the ids of finished orders are kept as 64-bit hashes (a few dozen bytes
    an order) to tell a split order."""
    seen: set[int] = set()
    current: list[Row] = []
    current_id = ""

    def finish() -> OrderRows:
        order = _merge(current)
        key = hash(current_id)
        if key in seen:
            return replace(
                order,
                code="order_rows_apart",
                problem=f"order {current_id} has rows elsewhere in the file too; sort the "
                "file by order so that its rows are together",
            )
        seen.add(key)
        return order

    for row in rows:
        order_id = "" if row.problem else cell_text(row.values.get(column)).lstrip("'")
        if current and order_id == current_id and order_id:
            if len(current) < MAX_LINES:
                current.append(row)
                continue
            if len(current) == MAX_LINES:  # refused whole: its first rows, then each later one
                yield _too_long(finish(), current_id)
                current.append(row)  # a marker: the order stays refused
            yield _too_long(OrderRows(number=row.number, values=row.values), current_id)
            continue
        if current and len(current) <= MAX_LINES:
            yield finish()
        current = []
        if not order_id:
            yield row
            continue
        current, current_id = [row], order_id
    if current and len(current) <= MAX_LINES:
        yield finish()


def _too_long(order: OrderRows, order_id: str) -> OrderRows:
    reason = f"order {order_id} has more than {MAX_LINES} rows"
    return replace(order, code="order_too_long", problem=reason)


def _merge(rows: list[Row]) -> OrderRows:
    values: dict[str, object] = {}
    for row in rows:
        for column, value in row.values.items():
            if values.get(column) in (None, "") and value not in (None, ""):
                values[column] = value
            else:
                values.setdefault(column, value)
    extra = tuple(cell for row in rows for cell in row.extra_cells)
    return OrderRows(number=rows[0].number, values=values, extra_cells=extra, lines=tuple(rows))


def order_products(
    order: Row, columns: dict[str, str], *, warn: Callable[..., None]
) -> list[dict[str, object]]:
    """Segment's ``products`` array: one product per line of the order, from
    the ``columns`` (column → product property) with a value on that line;
    ``price`` is a number, ``quantity`` a whole number (else ``warn(column,
    value, code, reason, row=line)`` and the value is left out)."""
    lines = order.lines if isinstance(order, OrderRows) else (order,)
    products = []
    for line in lines:
        product: dict[str, object] = {}
        for column, name in columns.items():
            text = unguard(cell_text(line.values.get(column)))
            if not text:
                continue
            if not is_spec_number(name):
                product[name] = text
                continue
            number = read_number(text)
            whole = name in SPEC_INTEGERS
            if number is None or (whole and not isinstance(number, int)):
                kind = "whole number" if whole else "number"
                warn(column, text, "invalid_number", f"{text!r} is not a {kind}", row=line.number)
                continue
            product[name] = number
        if product:
            products.append(product)
    return products
