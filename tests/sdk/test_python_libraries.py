"""segment-analytics-python and rudder-sdk-python, unmodified, against a live
server (issue 20; they replace the deprecated analytics-python)."""

from datetime import UTC, datetime, timedelta

import pytest
import rudderstack.analytics
import rudderstack.analytics.request
import segment.analytics
import segment.analytics.request

from consent.models import ConsentState
from customers.models import Customer, Event, GroupMembership

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

LIBRARIES = {
    "segment": (segment.analytics.Client, segment.analytics.request),
    "rudderstack": (rudderstack.analytics.Client, rudderstack.analytics.request),
}


@pytest.fixture
def client_for(live_server, keyed):
    """A library client sending synchronously to the live server."""
    _, key = keyed
    errors: list[Exception] = []
    used = []

    def make(library: str, *, gzipped: bool = False):
        client_class, request_module = LIBRARIES[library]
        used.append(request_module)
        return client_class(
            key,
            host=live_server.url,
            sync_mode=True,
            gzip=gzipped,
            max_retries=0,
            on_error=lambda error, batch: errors.append(error),
        )

    make.errors = errors
    yield make
    # each library keeps one HTTP session for the process; closing it lets the
    # live server's request thread (and its database connection) finish
    for request_module in used:
        request_module._session.close()


@pytest.mark.parametrize(
    ("library", "gzipped"), [("segment", False), ("segment", True), ("rudderstack", True)]
)
def test_every_call_type_is_stored(client_for, library, gzipped):
    client = client_for(library, gzipped=gzipped)
    client.page(anonymous_id="dev-1", name="Landing")
    client.identify(
        "u-42", {"email": "zoe@example.com", "name": "Zoë Ðurić", "company": "Acme", "plan": "team"}
    )
    client.track("u-42", "Order Completed", {"revenue": 99.5})
    client.page("u-42", "Docs", "Install", {"path": "/docs/install"})
    client.screen("u-42", "App", "Home")
    client.group("u-42", "acme", {"name": "Acme Inc"})
    client.alias("dev-1", "u-42")
    client.flush()
    assert client_for.errors == []
    customer = Customer.objects.active().get()
    assert (customer.email, customer.first_name, customer.last_name, customer.company) == (
        "zoe@example.com",
        "Zoë",
        "Ðurić",
        "Acme",
    )
    assert customer.traits == {"name": "Zoë Ðurić", "plan": "team"}
    assert sorted(Event.objects.values_list("type", flat=True)) == [
        "alias",
        "group",
        "identify",
        "page",
        "page",
        "screen",
        "track",
    ]
    assert Event.objects.get(type="track").properties == {"revenue": 99.5}
    assert GroupMembership.objects.get().group.name == "Acme Inc"
    assert sorted(customer.identities.values_list("type__name", "value")) == [
        ("anonymous_id", "dev-1"),
        ("email", "zoe@example.com"),
        ("user_id", "u-42"),
    ]


@pytest.mark.parametrize("library", ["segment", "rudderstack"])
def test_times_keep_the_caller_timestamp_and_the_batch_sent_at(client_for, library):
    # both put sentAt on the batch only, and fill `timestamp` with their clock
    client = client_for(library)
    client.track("u-1", "Order Completed", timestamp=datetime(2024, 3, 1, 9, 30, tzinfo=UTC))
    client.track("u-1", "Viewed")
    client.flush()
    assert client_for.errors == []
    past = Event.objects.get(name="Order Completed")
    assert past.sent_at is not None
    assert past.original_timestamp == datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    # corrected for the (tiny) skew between this machine's clock and itself
    assert abs(past.timestamp - datetime(2024, 3, 1, 9, 30, tzinfo=UTC)) < timedelta(seconds=5)
    now = Event.objects.get(name="Viewed")
    assert abs(now.timestamp - now.received_at) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("library", "category"), [("segment", "DataSharing"), ("rudderstack", "Data Sharing")]
)
def test_consent_categories_of_either_spelling(client_for, library, category):
    client = client_for(library)
    context = {"consent": {"categoryPreferences": {category: True, "Email": False}}}
    client.identify("u-7", {"city": "Gent", "country": "BE"}, context=context)
    client.flush()
    assert client_for.errors == []
    states = dict(ConsentState.objects.values_list("purpose__code", "state"))
    assert states == {"third_party_sharing": "granted", "email_marketing": "denied"}
    customer = Customer.objects.active().get()
    assert (customer.city, customer.country, customer.traits) == ("Gent", "BE", {})
