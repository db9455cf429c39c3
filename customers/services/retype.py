"""Retyping a custom trait: its stored values converted to number, yes/no or date.

Values that arrived as text (``"512.10"``, ``"yes"``, ``"3/14/1985"``) are
read the way file imports read them (``customers.services.values``) and
stored as JSON numbers, booleans or ``YYYY-MM-DD`` dates, so that rules and
exports see one type. A value that does not read as the type is left as it
is and listed. Profiles are changed a chunk at a time, each chunk in its own
transaction with its history rows and ``profile.updated`` outbox entries;
provenance (which source set the value, when) is kept, since the value
itself does not change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from core.db.bulk import update_rows
from core.db.copy import insert_history, insert_rows
from core.models import OutboxEntry
from core.outbox import Topic
from customers.models import Customer
from customers.services.values import iso_date, read_boolean, read_number
from customers.services.versions import bump_versions

TYPES = ("number", "boolean", "date")
CHUNK = 1000


@dataclass
class Retyped:
    """What a retype did: values converted, values already of the type, and
    the (profile id, value) pairs that could not be converted."""

    converted: int = 0
    already: int = 0
    failed: list[tuple[int, object]] = field(default_factory=list)


def converter(as_type: str, *, date_order: str = "") -> Callable[[object], tuple[bool, object]]:
    """(readable, value) for a stored value; readable values of the type come back as they are."""
    if as_type not in TYPES:
        raise ValueError(f"{as_type!r}: use one of {', '.join(TYPES)}")

    def convert(value: object) -> tuple[bool, object]:
        if as_type == "number":
            if isinstance(value, int | float) and not isinstance(value, bool):
                return True, value
            number = read_number(value) if isinstance(value, str) else None
            return number is not None, number
        if as_type == "boolean":
            if isinstance(value, bool):
                return True, value
            answer = read_boolean(value) if isinstance(value, str) else None
            return answer is not None, answer
        day = iso_date(value, order=date_order) if isinstance(value, str) else None
        return day is not None, day

    return convert


def retype_trait(
    *, name: str, as_type: str, dry_run: bool = False, date_order: str = ""
) -> Retyped:
    """Convert every stored value of trait ``name`` to ``as_type`` (number,
    boolean or date, with ``date_order`` DMY/MDY for ``a/b/yyyy`` dates);
    with ``dry_run`` nothing is written. Null values are left alone."""
    convert = converter(as_type, date_order=date_order)
    result = Retyped()
    holders = Customer.objects.filter(traits__has_key=name).order_by("pk")
    last = 0
    while chunk := list(holders.filter(pk__gt=last)[:CHUNK]):
        last = chunk[-1].pk
        changed = []
        for customer in chunk:
            value = customer.traits[name]
            if value is None:
                continue
            readable, typed = convert(value)
            if not readable:
                result.failed.append((customer.pk, value))
            elif typed == value and type(typed) is type(value):
                result.already += 1
            else:
                customer.traits = {**customer.traits, name: typed}
                changed.append(customer)
        result.converted += len(changed)
        if changed and not dry_run:
            _save(changed, name)
    return result


@transaction.atomic
def _save(customers: list[Customer], name: str) -> None:
    now = timezone.now()
    for customer in customers:
        customer.updated_at = now
    update_rows(Customer, customers, ["traits", "updated_at"])
    bump_versions(c.pk for c in customers)
    insert_history(Customer, customers, update=True, date=now)
    insert_rows(
        OutboxEntry,
        [
            OutboxEntry(
                topic=Topic.PROFILE_UPDATED,
                customer=customer,
                payload={"customer_id": customer.pk, "changed": [f"traits.{name}"]},
            )
            for customer in customers
        ],
    )
