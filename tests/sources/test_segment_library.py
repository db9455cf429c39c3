"""An unmodified Segment library pointed at a live server."""

import analytics
import analytics.request
import pytest

from customers.models import Customer, Event, GroupMembership
from sources.services.keys import create_source


@pytest.fixture(autouse=True)
def _close_library_connections():
    yield
    # the library keeps one HTTP session for the process; closing it lets the
    # live server's request thread (and its database connection) finish
    analytics.request._session.close()


# The live server needs committed data; serialized_rollback restores the
# identifier types the data migration seeds, which the flush between
# transactional tests removes.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("gzipped", [False, True])
def test_analytics_python_sends_every_call_type(live_server, gzipped):
    _, key = create_source(name="Backend", kind="server")
    errors = []
    client = analytics.Client(
        key,
        host=live_server.url,
        sync_mode=True,
        gzip=gzipped,
        max_retries=0,
        on_error=lambda error, batch: errors.append(error),
    )
    client.page(anonymous_id="dev-1", name="Landing")
    client.identify("u-42", {"email": "zoe@example.com", "firstName": "Zoe", "plan": "team"})
    client.track("u-42", "Order Completed", {"revenue": 99.5})
    client.page("u-42", "Docs", "Install", {"path": "/docs/install"})
    client.screen("u-42", "App", "Home")
    client.group("u-42", "acme", {"name": "Acme Inc"})
    client.alias("dev-1", "u-42")
    client.flush()
    assert errors == []
    customer = Customer.objects.active().get()
    assert (customer.email, customer.first_name, customer.traits) == (
        "zoe@example.com",
        "Zoe",
        {"plan": "team"},
    )
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
