"""@segment/analytics-node 3.x, unmodified, against a live server (issue 20)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from consent.models import ConsentState
from customers.models import Customer, Event

# the live server needs committed data; serialized_rollback restores the
# purposes and identifier types the data migrations seed
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_a_device_clock_one_hour_fast_is_corrected_with_the_batch_sent_at(run_node):
    before = timezone.now()
    errors = run_node(
        "segment",
        [("track", {"userId": "u-1", "event": "Order Completed", "properties": {"total": 12}})],
        clock_offset_seconds=3600,
    )
    assert errors == []
    event = Event.objects.get()
    assert event.sent_at is not None
    assert event.sent_at - event.received_at > timedelta(minutes=59)
    assert event.original_timestamp - event.received_at > timedelta(minutes=59)
    assert before - timedelta(seconds=5) <= event.timestamp <= event.received_at
    assert Customer.objects.active().get().last_seen <= timezone.now()


def test_identify_with_name_company_and_flat_address(run_node):
    traits = {
        "name": "Zoë Lefèvre",
        "email": "zoe@example.com",
        "company": {
            "id": "acme-1",
            "name": "Acme",
            "industry": "Retail",
            "employee_count": 120,
            "plan": "enterprise",
        },
        "city": "Lyon",
        "country": "FR",
        "postalCode": "69002",
        "state": "Auvergne-Rhône-Alpes",
        "street": "3 rue de la République",
        "createdAt": "2023-06-01T08:00:00.000Z",
    }
    assert run_node("segment", [("identify", {"userId": "u-2", "traits": traits})]) == []
    customer = Customer.objects.active().get()
    assert (customer.first_name, customer.last_name, customer.email) == (
        "Zoë",
        "Lefèvre",
        "zoe@example.com",
    )
    assert customer.company == "Acme"
    assert (customer.address_line1, customer.city, customer.postal_code, customer.region) == (
        "3 rue de la République",
        "Lyon",
        "69002",
        "Auvergne-Rhône-Alpes",
    )
    assert customer.country == "FR"
    assert customer.traits == {
        "name": "Zoë Lefèvre",
        "company_id": "acme-1",
        "company_industry": "Retail",
        "company_employee_count": 120,
        "company_plan": "enterprise",
        "createdAt": "2023-06-01T08:00:00.000Z",
    }


def test_segment_data_sharing_category_maps_to_a_purpose(run_node):
    context = {"consent": {"categoryPreferences": {"DataSharing": False, "Advertising": True}}}
    assert (
        run_node("segment", [("track", {"userId": "u-3", "event": "Viewed", "context": context})])
        == []
    )
    states = dict(ConsentState.objects.values_list("purpose__code", "state"))
    assert states == {"third_party_sharing": "denied", "advertising": "granted"}


def test_alias_of_a_former_user_id(run_node):
    calls = [
        ("identify", {"userId": "legacy-42", "traits": {"email": "sam@example.com"}}),
        ("track", {"userId": "legacy-42", "event": "Signed Up"}),
        ("alias", {"previousId": "legacy-42", "userId": "sam-2026"}),
        ("track", {"userId": "sam-2026", "event": "Order Completed"}),
    ]
    assert run_node("segment", calls) == []
    customer = Customer.objects.active().get()
    assert sorted(customer.identities.values_list("type__name", "value")) == [
        ("email", "sam@example.com"),
        ("user_id", "legacy-42"),
        ("user_id", "sam-2026"),
    ]
    assert sorted(customer.events.values_list("type", "name")) == [
        ("alias", ""),
        ("identify", ""),
        ("track", "Order Completed"),
        ("track", "Signed Up"),
    ]
