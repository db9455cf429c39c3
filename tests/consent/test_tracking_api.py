"""Consent and suppression through the real tracking API (/v1/…)."""

import base64
import json

import pytest

from consent.models import ConsentRecord, SuppressedMessageCount
from consent.services.privacy import create_request
from customers.models import Customer
from sources.models import IntakeMessage, RejectedMessage
from sources.services.keys import create_source

from .helpers import tables_mentioning

EMAIL = "tracy.quell@example.com"


@pytest.fixture
def tracked(db):
    return create_source(name="Web tracking", kind="website")


@pytest.fixture
def post(client, tracked, django_capture_on_commit_callbacks):
    _source, key = tracked
    token = base64.b64encode(f"{key}:".encode()).decode()

    def _post(path, payload):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                path,
                json.dumps(payload).encode(),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Basic {token}",
            )

    return _post


def test_consent_banner_preferences_arrive_with_a_track_call(post, tracked):
    response = post(
        "/v1/track",
        {
            "userId": "u-tracy",
            "event": "Page Viewed",
            "messageId": "m-1",
            "context": {
                "ip": "198.51.100.4",
                "userAgent": "Mozilla/5.0 (X11)",
                "consent": {"categoryPreferences": {"Advertising": True, "Analytics": False}},
            },
        },
    )
    assert response.json() == {"success": True}
    records = {r.purpose.code: r for r in ConsentRecord.objects.select_related("purpose")}
    assert {code: r.state for code, r in records.items()} == {
        "advertising": "granted",
        "analytics": "denied",
    }
    assert (records["advertising"].method, records["advertising"].ip_address) == (
        "tracking",
        "198.51.100.4",
    )
    assert records["advertising"].actor == f"source:{tracked[0].pk}"


def test_calls_for_an_erased_person_are_dropped_at_intake_and_counted(
    post, tracked, django_capture_on_commit_callbacks
):
    post("/v1/identify", {"userId": "u-tracy", "messageId": "m-1", "traits": {"email": EMAIL}})
    # a rejected call quoting her (no userId/anonymousId) is kept as a rejection
    post("/v1/track", {"messageId": "m-bad", "event": "X", "context": {"traits": {"email": EMAIL}}})
    assert RejectedMessage.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        create_request(type="erasure", identifier=f"email:{EMAIL}")
    assert tables_mentioning([EMAIL, "u-tracy"]) == {}

    response = post(
        "/v1/track",
        {"userId": "u-tracy", "event": "Came Back", "messageId": "m-2"},
    )
    post("/v1/identify", {"anonymousId": "a-9", "messageId": "m-3", "traits": {"email": EMAIL}})

    assert response.json() == {"success": True}
    assert IntakeMessage.objects.count() == 0
    assert Customer.objects.count() == 0
    assert SuppressedMessageCount.objects.get(source=tracked[0]).count == 2
    assert tables_mentioning([EMAIL, "u-tracy"]) == {}
