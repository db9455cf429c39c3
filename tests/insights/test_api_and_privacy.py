"""Insights in the profile API, in erasure and access requests, and the purchase setting."""

import pytest
from django.utils import timezone

from consent import registry
from insights.services.rfm import compute_rfm
from segments.selectors import profile_computed_traits


@pytest.fixture
def ann(make_customer, buy):
    customer = make_customer(email="ann@example.com")
    buy(customer, 2, 30)
    compute_rfm(now=timezone.now())
    return customer


def test_profile_api_returns_stored_traits_under_computed_traits(make_api_client, ann, source):
    from customers.models import IdentifierType, Identity

    Identity.objects.create(
        customer=ann,
        type=IdentifierType.objects.get(name="email"),
        value="ann@example.com",
        source=source,
    )
    body = make_api_client("profiles:read").get("/api/v1/profiles/email:ann@example.com/").json()
    assert body["computed_traits"] == {
        "lifecycle_stage": "new",
        "rfm_frequency": 1,
        "rfm_monetary": 1,
        "rfm_recency": 1,
        "rfm_segment": "Hibernating",
    }


def test_erasure_removes_scores_and_access_exports_them(ann):
    subject = registry.Subject(customer_ids=(ann.pk,), identifiers=())
    exporters = dict(registry.exporters())
    exported = exporters["insights"](subject)
    assert {row["trait"] for row in exported} == {
        "lifecycle_stage",
        "rfm_frequency",
        "rfm_monetary",
        "rfm_recency",
        "rfm_segment",
    }
    assert all(row["explanation"] for row in exported)
    erasers = dict(registry.erasers())
    assert erasers["insights"](subject) == 5
    assert profile_computed_traits(ann.pk) == []
