"""Every call type, alone and in batches, plain and gzip, both key styles."""

import pytest

from customers.models import Customer, Event, Group, GroupMembership, Identity
from sources.models import IntakeMessage


def _ids(customer):
    return sorted((i.type.name, i.value) for i in customer.identities.select_related("type"))


@pytest.mark.parametrize("auth", ["basic", "body"])
@pytest.mark.parametrize("gzipped", [False, True])
def test_identify_creates_profile_with_core_fields_and_traits(send, keyed_source, auth, gzipped):
    source, _ = keyed_source
    response = send(
        "/v1/identify",
        {
            "userId": "u-1",
            "anonymousId": "anon-1",
            "messageId": "m-identify",
            "traits": {
                "email": " Ann@Example.COM ",
                "firstName": "Ann",
                "lastName": "Lee",
                "address": {"city": "Lyon", "postalCode": "69001", "country": "FR"},
                "company": {"name": "Acme"},
                "plan": "pro",
            },
            "timestamp": "2026-11-01T10:00:00Z",
        },
        auth=auth,
        gzipped=gzipped,
    )
    assert response.status_code == 200
    assert response.json() == {"success": True}
    customer = Customer.objects.get()
    assert (customer.email, customer.first_name, customer.last_name) == (
        "ann@example.com",
        "Ann",
        "Lee",
    )
    assert (customer.city, customer.postal_code, customer.country, customer.company) == (
        "Lyon",
        "69001",
        "FR",
        "Acme",
    )
    assert customer.traits == {"plan": "pro"}
    assert customer.trait_provenance["email"]["source"] == source.pk
    assert _ids(customer) == [
        ("anonymous_id", "anon-1"),
        ("email", "ann@example.com"),
        ("user_id", "u-1"),
    ]
    event = Event.objects.get()
    assert (event.type, event.message_id, event.customer_id) == (
        "identify",
        "m-identify",
        customer.pk,
    )


@pytest.mark.parametrize(
    ("path", "payload", "event_type", "name"),
    [
        (
            "/v1/track",
            {"event": "Order Completed", "properties": {"revenue": 42}},
            "track",
            "Order Completed",
        ),
        ("/v1/page", {"name": "Pricing", "properties": {"path": "/pricing"}}, "page", "Pricing"),
        ("/v1/screen", {"name": "Home", "properties": {}}, "screen", "Home"),
    ],
)
def test_event_calls_append_to_known_profile(send, path, payload, event_type, name):
    send("/v1/identify", {"userId": "u-7", "traits": {"email": "bo@example.com"}})
    response = send(path, {"userId": "u-7", "messageId": "e-1", **payload})
    assert response.status_code == 200
    customer = Customer.objects.get()
    event = Event.objects.get(message_id="e-1")
    assert (event.customer_id, event.type, event.name) == (customer.pk, event_type, name)
    assert event.properties == payload["properties"]


def test_anonymous_events_then_identify_land_on_one_profile(send):
    send("/v1/page", {"anonymousId": "dev-9", "name": "Home"})
    send("/v1/identify", {"anonymousId": "dev-9", "userId": "u-9", "traits": {"email": "c@x.io"}})
    customer = Customer.objects.get()
    assert customer.is_identified
    assert customer.events.count() == 2
    assert _ids(customer) == [("anonymous_id", "dev-9"), ("email", "c@x.io"), ("user_id", "u-9")]


def test_alias_joins_previous_anonymous_profile_to_user(send):
    send("/v1/track", {"anonymousId": "old-device", "event": "Viewed"})
    send("/v1/identify", {"userId": "u-5", "traits": {"email": "d@x.io"}})
    response = send("/v1/alias", {"previousId": "old-device", "userId": "u-5"})
    assert response.status_code == 200
    active = Customer.objects.active()
    assert active.count() == 1
    survivor = active.get()
    assert _ids(survivor) == [
        ("anonymous_id", "old-device"),
        ("email", "d@x.io"),
        ("user_id", "u-5"),
    ]
    assert Event.objects.filter(customer=survivor).count() == 3


def test_group_records_account_traits_and_membership(send, keyed_source):
    source, _ = keyed_source
    response = send(
        "/v1/group",
        {
            "userId": "u-3",
            "groupId": "acct-1",
            "traits": {"name": "Initech", "employees": 120, "email": "billing@initech.com"},
        },
    )
    assert response.status_code == 200
    group = Group.objects.get()
    assert (group.group_id, group.name) == ("acct-1", "Initech")
    assert group.traits == {"name": "Initech", "employees": 120, "email": "billing@initech.com"}
    member = GroupMembership.objects.get()
    assert member.customer == Customer.objects.get()
    assert member.source == source
    # the group's email is the account's, not the person's
    assert not Identity.objects.filter(type__name="email").exists()


def test_context_traits_and_external_ids_feed_identity(send):
    send("/v1/identify", {"userId": "u-1", "traits": {"email": "eve@example.com"}})
    send(
        "/v1/track",
        {
            "anonymousId": "browser-1",
            "event": "Clicked",
            "context": {
                "traits": {"email": "EVE@example.com"},
                "externalIds": [
                    {"id": "hs-77", "type": "hubspot_id", "collection": "users"},
                    {"id": "crm-1", "type": "external_id", "collection": "users"},
                ],
            },
        },
    )
    customer = Customer.objects.get()
    assert _ids(customer) == [
        ("anonymous_id", "browser-1"),
        ("email", "eve@example.com"),
        ("external_id", "crm-1"),
        ("external_id", "hubspot_id:hs-77"),
        ("user_id", "u-1"),
    ]


@pytest.mark.parametrize("auth", ["basic", "body"])
@pytest.mark.parametrize("gzipped", [False, True])
def test_batch_of_every_call_type(send, auth, gzipped):
    batch = [
        {"type": "identify", "userId": "u-1", "traits": {"email": "f@x.io", "firstName": "F"}},
        {"type": "track", "userId": "u-1", "event": "Signed Up"},
        {"type": "page", "anonymousId": "a-2", "name": "Docs"},
        {"type": "screen", "anonymousId": "a-2", "name": "Settings"},
        {"type": "group", "userId": "u-1", "groupId": "g-1", "traits": {"name": "G"}},
        {"type": "alias", "previousId": "a-2", "userId": "u-1"},
    ]
    response = send("/v1/batch", {"batch": batch}, auth=auth, gzipped=gzipped)
    assert response.status_code == 200
    assert response.json() == {"success": True, "accepted": 6, "duplicates": 0, "rejected": []}
    assert IntakeMessage.objects.filter(status="processed").count() == 6
    survivor = Customer.objects.active().get()
    assert survivor.first_name == "F"
    assert _ids(survivor) == [("anonymous_id", "a-2"), ("email", "f@x.io"), ("user_id", "u-1")]
    assert sorted(survivor.events.values_list("type", flat=True)) == [
        "alias",
        "group",
        "identify",
        "page",
        "screen",
        "track",
    ]
    assert GroupMembership.objects.get().customer == survivor


def test_batch_context_and_integrations_merge_into_each_call(send):
    send(
        "/v1/batch",
        {
            "context": {"library": {"name": "analytics-node"}, "locale": "fr-FR"},
            "integrations": {"All": False},
            "batch": [
                {"type": "track", "userId": "u", "event": "A", "context": {"locale": "de-DE"}},
                {"type": "track", "userId": "u", "event": "B"},
            ],
        },
    )
    a, b = (IntakeMessage.objects.get(payload__event=name).payload for name in ("A", "B"))
    assert a["context"]["locale"] == "de-DE"
    assert a["context"]["library"] == {"name": "analytics-node"}
    assert b["context"]["locale"] == "fr-FR"
    assert b["integrations"] == {"All": False}


def test_ip_comes_from_the_request_when_context_has_none(send):
    send("/v1/track", {"userId": "u", "event": "A"}, headers={"REMOTE_ADDR": "203.0.113.9"})
    send("/v1/track", {"userId": "u", "event": "B", "context": {"ip": "198.51.100.1"}})
    assert Event.objects.get(name="A").context["ip"] == "203.0.113.9"
    assert Event.objects.get(name="B").context["ip"] == "198.51.100.1"


def test_import_is_an_alias_of_batch(send):
    response = send("/v1/import", {"batch": [{"type": "track", "userId": "u", "event": "A"}]})
    assert response.status_code == 200
    assert Event.objects.get().name == "A"
