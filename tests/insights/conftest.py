import random
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from customers.models import Customer, Event
from tests.api.conftest import make_api_client  # noqa: F401  (fixture)
from tests.backoffice.conftest import role_client  # noqa: F401  (fixture)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
_ids = count(1)


@pytest.fixture
def now():
    return NOW


@pytest.fixture
def make_customer(db):
    def make(**fields) -> Customer:
        fields.setdefault("first_seen", NOW - timedelta(days=800))
        fields.setdefault("last_seen", NOW - timedelta(days=1))
        return Customer.objects.create(**fields)

    return make


@pytest.fixture
def buy(source):
    """``buy(customer, days_ago, revenue)``: one Order Completed event."""

    def make(customer, days_ago: float, revenue=None, *, name="Order Completed", **props):
        properties = dict(props)
        if revenue is not None:
            properties["revenue"] = revenue
        return Event.objects.create(
            customer=customer,
            source=source,
            type="track",
            name=name,
            properties=properties,
            timestamp=NOW - timedelta(days=days_ago),
            message_id=f"ins-{next(_ids)}",
        )

    return make


@pytest.fixture
def random_shop(source):
    """60 buyers with random purchase histories (some outside the window),
    and 5 who never bought; returns the customers."""

    def make(seed: int = 7, buyers: int = 60) -> list[Customer]:
        rng = random.Random(seed)
        people = Customer.objects.bulk_create(
            Customer(first_seen=NOW - timedelta(days=900), last_seen=NOW) for _ in range(buyers + 5)
        )
        events = []
        for person in people[:buyers]:
            for _ in range(rng.choice([1, 1, 2, 3, 5, 8])):
                props = rng.choice(
                    [
                        {"revenue": rng.choice([10, 25, 40, 99.5])},
                        {"total": rng.choice([15, 30])},
                        {"revenue": "12.50", "total": 20},
                        {},
                    ]
                )
                events.append(
                    Event(
                        customer=person,
                        source=source,
                        type="track",
                        name="Order Completed",
                        properties=props,
                        timestamp=NOW - timedelta(days=rng.choice([1, 3, 10, 40, 90, 200, 400])),
                        message_id=f"ins-{next(_ids)}",
                    )
                )
        Event.objects.bulk_create(events)
        return people

    return make
