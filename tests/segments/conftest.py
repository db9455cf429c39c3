from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from customers.models import Customer, Event, IdentifierType, Identity
from tests.api.conftest import make_api_client  # noqa: F401  (fixture for the API tests)
from tests.backoffice.conftest import role_client  # noqa: F401  (a signed-in client per role)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
_message_ids = count(1)


@pytest.fixture
def now():
    return NOW


@pytest.fixture
def make_customer(db):
    def make(**fields) -> Customer:
        fields.setdefault("first_seen", NOW - timedelta(days=100))
        fields.setdefault("last_seen", NOW - timedelta(days=1))
        return Customer.objects.create(**fields)

    return make


@pytest.fixture
def make_event(source):
    def make(customer, name, *, days_ago=1.0, properties=None, event_source=None) -> Event:
        return Event.objects.create(
            customer=customer,
            source=event_source or source,
            type="track",
            name=name,
            properties=properties or {},
            timestamp=NOW - timedelta(days=days_ago),
            message_id=f"m-{next(_message_ids)}",
        )

    return make


@pytest.fixture
def make_identity(source):
    def make(customer, type_name, value, *, identity_source=None) -> Identity:
        return Identity.objects.create(
            customer=customer,
            type=IdentifierType.objects.get(name=type_name),
            value=value,
            source=identity_source or source,
        )

    return make
