"""Hostile values in what issue 20 reads (reserved traits, consent categories,
integrations, context.traits): a 4xx or a data-quality issue, never a 500."""

import pytest

from consent.models import ConsentState
from customers.models import Customer, DataQualityIssue
from destinations.services.dispatch import receives_call


@pytest.mark.parametrize(
    "preferences",
    [
        ["Advertising"],
        "Advertising=true",
        42,
        {"x" * 5000: True},
        {"Advertising": {"nested": True}},
        {"Advertising": None},
        {"": True},
    ],
)
def test_unreadable_category_preferences_are_issues_not_consent(send, preferences):
    response = send(
        "/v1/identify",
        {"userId": "u-1", "context": {"consent": {"categoryPreferences": preferences}}},
    )
    assert response.status_code == 200
    assert not ConsentState.objects.exists()
    issue = DataQualityIssue.objects.get()
    assert issue.code in ("invalid_consent_preference", "unknown_consent_category")
    assert len(issue.value) <= 500


@pytest.mark.parametrize(
    "traits",
    [
        {"company": {"name": {"deep": ["x"]}, "id": None}},
        {"company": {"name": "A" * 5000}},
        {"name": "N" * 5000},
        {"address": None, "city": ["Lyon"], "country": 7},
        {"company": [], "name": 3.5},
    ],
)
def test_odd_reserved_traits_are_refused_per_value(send, traits):
    response = send("/v1/identify", {"userId": "u-2", "traits": traits})
    assert response.status_code == 200
    customer = Customer.objects.active().get()
    assert (customer.company, customer.city, customer.country) == ("", "", "")
    assert customer.first_name == ""


@pytest.mark.parametrize("context_traits", ["Ann", ["email"], 5])
def test_context_traits_of_the_wrong_type_refuse_the_call(send, context_traits):
    response = send(
        "/v1/identify", {"userId": "u-3", "traits": {}, "context": {"traits": context_traits}}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_field"


@pytest.mark.parametrize(
    "integrations", [{"All": None}, {"": True}, {"All": [1]}, {"x" * 300: {"a": {}}}]
)
def test_odd_integrations_never_fail(send, integrations):
    response = send("/v1/track", {"userId": "u-4", "event": "A", "integrations": integrations})
    assert response.status_code == 200
    assert receives_call("CRM hook", integrations) is True
