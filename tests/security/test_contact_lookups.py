"""Viewers may not search, filter or build segments by email or phone number."""

import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.services.api_keys import create_api_key
from customers.models import Customer
from sources.contracts import NormalizedMessage
from sources.pipeline import process_message

EMAIL = "mary.o'neil@example.com"


@pytest.fixture
def mary(source):
    now = timezone.now()
    message = NormalizedMessage(
        source_id=source.pk,
        message_id="lookup-1",
        type="identify",
        timestamp=now,
        received_at=now,
        user_id="u-mary",
        traits={"email": EMAIL, "firstName": "Mary", "mobile": "0151 2345 6789"},
    )
    process_message(message)
    return Customer.objects.get(email=EMAIL)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _preview(client, rule):
    return client.post(
        reverse("admin:segments_builder_preview"),
        json.dumps({"rule": rule}),
        content_type="application/json",
    )


def test_the_builder_refuses_contact_conditions_to_a_viewer(mary, people):
    guess = {
        "all": [
            {"field": "country", "op": "is_not_set"},
            {"field": "email", "op": "starts_with", "value": "mary.o"},
        ]
    }
    refused = _preview(_client(people["viewer"]), guess)
    assert refused.status_code == 403
    assert refused.json()["code"] == "contact_condition_forbidden"
    assert refused.json()["details"] == {"paths": ["$.all[1]"]}
    assert "count" not in refused.json()
    assert _preview(_client(people["marketer"]), guess).json()["count"] == 1
    for rule in (
        {"trait": "mobile", "op": "starts_with", "value": "0151"},
        {"trait": "plan", "op": "eq", "value": EMAIL},
        {
            "event": "Order Completed",
            "where": [{"property": "email", "op": "contains", "value": "m"}],
        },
    ):
        assert _preview(_client(people["viewer"]), rule).status_code == 403, rule
    values = reverse("admin:segments_builder_values")
    assert _client(people["viewer"]).get(values + "?field=email").status_code == 403
    assert _client(people["viewer"]).get(values + "?field=country").status_code == 200


def test_the_api_refuses_contact_lookups_to_a_viewer_but_not_to_keys(mary, people):
    viewer = _client(people["viewer"])
    customers = reverse("customer-list")
    for query in ({"q": EMAIL}, {"q": "email:mary"}, {"trait": "mobile:0151 2345 6789"}):
        response = viewer.get(customers, query)
        assert response.status_code == 403, query
        assert response.json()["code"] == "contact_lookup_forbidden"
        assert EMAIL not in response.content.decode()
    assert viewer.get(f"/api/v1/profiles/email:{EMAIL}/").status_code == 403
    in_body = viewer.post(
        "/api/v1/profiles/lookup/",
        {"identifier": f"email:{EMAIL}"},
        content_type="application/json",
    )
    assert (in_body.status_code, in_body.json()["code"]) == (403, "contact_lookup_forbidden")
    assert viewer.get("/api/v1/profiles/user_id:u-mary/").status_code == 200
    _key, secret = create_api_key(name="Shop", scopes=["profiles:read"])
    keyed = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    found = keyed.get(customers, {"q": EMAIL}).json()["results"]
    assert [c["email"] for c in found] == [EMAIL]


def test_the_admin_refuses_contact_searches_to_a_viewer_with_a_reason(mary, people):
    viewer = _client(people["viewer"])
    search = viewer.post(reverse("backoffice-search"), {"q": EMAIL})
    assert search.status_code == 403
    page = search.content.decode()
    assert "may not search by email address or phone number" in page
    assert "neil@example" not in page
    changelist = reverse("admin:customers_customer_changelist")
    assert viewer.get(changelist, {"q": EMAIL}).status_code == 403
    assert viewer.get(changelist, {"email__startswith": "mary"}).status_code == 403
    assert viewer.get(changelist, {"q": "u-mary"}).status_code == 200
    marketer = _client(people["marketer"])
    assert marketer.post(reverse("backoffice-search"), {"q": EMAIL}).status_code == 302
    assert marketer.get(changelist, {"email__startswith": "mary"}).status_code == 200
