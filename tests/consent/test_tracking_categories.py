"""Consent categories as Segment's and RudderStack's tooling spell them (issue 20)."""

import base64
import json

import pytest
from django.urls import reverse

from consent.models import ConsentState, Purpose
from consent.services.categories import category_key, read_categories
from customers.models import Customer, DataQualityIssue
from sources.services.keys import create_source


@pytest.fixture
def tracked(db):
    return create_source(name="Web tracking", kind="website")


@pytest.fixture
def post(client, tracked, django_capture_on_commit_callbacks):
    _source, key = tracked
    token = base64.b64encode(f"{key}:".encode()).decode()

    def _post(payload):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                "/v1/identify",
                json.dumps(payload).encode(),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Basic {token}",
            )

    return _post


def _states(user_id):
    customer = Customer.objects.active().get(identities__value=user_id)
    return dict(
        ConsentState.objects.filter(customer=customer).values_list("purpose__code", "state")
    )


@pytest.mark.parametrize(
    "spelling", ["DataSharing", "Data Sharing", "data_sharing", "data-sharing"]
)
def test_both_data_sharing_spellings_reach_third_party_sharing(post, spelling):
    response = post(
        {"userId": "u-1", "context": {"consent": {"categoryPreferences": {spelling: False}}}}
    )
    assert response.status_code == 200
    assert _states("u-1") == {"third_party_sharing": "denied"}
    assert not DataQualityIssue.objects.exists()


def test_segment_standard_categories_map_to_the_seeded_purposes(post):
    preferences = {
        "Advertising": True,
        "Analytics": True,
        "Functional": False,
        "DataSharing": True,
        "Email": True,
        "SMS": False,
    }
    post({"userId": "u-2", "context": {"consent": {"categoryPreferences": preferences}}})
    assert _states("u-2") == {
        "advertising": "granted",
        "analytics": "granted",
        "personalization": "denied",
        "third_party_sharing": "granted",
        "email_marketing": "granted",
        "sms_marketing": "denied",
    }


def test_unknown_category_is_a_data_quality_issue_counted_on_the_source_page(
    post, tracked, admin_client
):
    source, _ = tracked
    preferences = {"Advertising": True, "Crypto Offers": True, "Analytics": "yes"}
    post({"userId": "u-3", "context": {"consent": {"categoryPreferences": preferences}}})
    assert _states("u-3") == {"advertising": "granted"}
    issues = DataQualityIssue.objects.order_by("code")
    assert [(i.code, i.value, i.field, i.source_id) for i in issues] == [
        (
            "invalid_consent_preference",
            "Analytics",
            "context.consent.categoryPreferences",
            source.pk,
        ),
        (
            "unknown_consent_category",
            "Crypto Offers",
            "context.consent.categoryPreferences",
            source.pk,
        ),
    ]
    assert issues[0].customer == Customer.objects.active().get()
    page = admin_client.get(reverse("admin:sources_source_changelist"))
    assert page.context["cl"].result_list[0].unknown_consent_categories_last_day == 1
    assert "code__exact=unknown_consent_category" in page.content.decode()


def test_a_category_of_an_inactive_purpose_is_unknown(db):
    Purpose.objects.filter(code="sms_marketing").update(is_active=False)
    reading = read_categories(
        {"SMS": True, "Email": False}, purposes=Purpose.objects.filter(is_active=True)
    )
    assert {p.code: v for p, v in reading.answers.items()} == {"email_marketing": False}
    assert reading.unknown == ("SMS",)


def test_names_added_in_the_admin_count_too(db):
    purpose = Purpose.objects.get(code="advertising")
    purpose.tracking_categories = [*purpose.tracking_categories, "Ads & Offers"]
    purpose.save()
    reading = read_categories({"ads & offers": True}, purposes=[purpose])
    assert reading.answers == {purpose: True}


@pytest.mark.parametrize(
    ("name", "key"),
    [("Data Sharing", "datasharing"), ("DATA_SHARING", "datasharing"), (" SMS ", "sms")],
)
def test_category_key(name, key):
    assert category_key(name) == key
