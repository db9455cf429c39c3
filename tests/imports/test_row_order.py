"""A later row of a file wins over an earlier one for the same person, even
when their batches are applied in the other order (concurrent batches)."""

from datetime import UTC, datetime

from customers.models import Customer
from sources.imports.plan import plan_import
from sources.imports.reading import Row
from sources.imports.rows import build_message
from sources.pipeline import apply_messages

IMPORTED_AT = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def test_later_row_wins_even_when_applied_first(db, source):
    headers = ["Email", "First Name", "City"]
    plan = plan_import(
        headers=headers,
        kind="customers",
        overrides={},
        identifier_types={"email", "phone"},
        rows=lambda: iter(()),
    )

    def message(number, first_name, city):
        values = {"Email": "ann@example.com", "First Name": first_name, "City": city}
        row = Row(number=number, values=values)
        return build_message(
            row, plan, kind="customers", source_id=source.pk, observed_at=IMPORTED_AT
        ).message

    apply_messages([message(15, "Anna", "Newtown")])  # batch 3 commits first
    apply_messages([message(13, "Ann", "Oldtown")])  # batch 2 commits after it

    customer = Customer.objects.get()
    assert (customer.first_name, customer.city) == ("Anna", "Newtown")
