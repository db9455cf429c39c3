"""Consent and privacy requests over the REST API."""

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.services.api_keys import create_api_key
from consent.models import ConsentRecord, DataSubjectRequest
from customers.models import Customer

from .helpers import ANN, build_ann


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()


def _client(*scopes, name="crm-sync"):
    _key, secret = create_api_key(name=name, scopes=list(scopes))
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_post_consent_records_it_attributed_to_the_api_key(customer):
    client = _client("consent:write", "consent:read")
    response = client.post(
        "/api/v1/profiles/email:ann@example.com/consent/",
        {
            "purpose": "email_marketing",
            "state": "granted",
            "method": "preference_centre",
            "ip_address": "192.0.2.8",
            "wording_version": "pc-3",
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["purpose"], body["state"], body["method"], body["actor"]) == (
        "email_marketing",
        "granted",
        "preference_centre",
        "api_key:crm-sync",
    )
    listing = client.get("/api/v1/profiles/email:ann@example.com/consent/").json()
    email = next(p for p in listing["purposes"] if p["code"] == "email_marketing")
    assert (email["state"], email["allowed"]) == ("granted", True)
    assert [h["id"] for h in listing["history"]] == [body["id"]]


def test_profile_api_shows_consent_state(customer):
    client = _client("consent:write", "profiles:read")
    client.post(
        "/api/v1/profiles/email:ann@example.com/consent/",
        {"purpose": "analytics", "state": "withdrawn"},
        content_type="application/json",
    )
    profile = client.get("/api/v1/profiles/email:ann@example.com/").json()
    verdicts = {p["code"]: (p["state"], p["allowed"]) for p in profile["consent"]}
    assert verdicts["analytics"] == ("withdrawn", False)
    assert verdicts["email_marketing"] == (None, False)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"purpose": "telepathy", "state": "granted"}, "invalid"),
        ({"purpose": "analytics", "state": "maybe"}, "invalid"),
        ({"purpose": "analytics", "state": "granted", "method": "admin"}, "invalid"),
    ],
)
def test_bad_consent_bodies_are_400(customer, body, code):
    response = _client("consent:write").post(
        "/api/v1/profiles/email:ann@example.com/consent/", body, content_type="application/json"
    )
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert ConsentRecord.objects.count() == 0


def test_consent_for_an_unknown_profile_is_404(db):
    response = _client("consent:write").post(
        "/api/v1/profiles/email:nobody@example.com/consent/",
        {"purpose": "analytics", "state": "granted"},
        content_type="application/json",
    )
    assert (response.status_code, response.json()["code"]) == (404, "profile_not_found")


def test_consent_write_needs_the_scope(customer):
    response = _client("consent:read").post(
        "/api/v1/profiles/email:ann@example.com/consent/",
        {"purpose": "analytics", "state": "granted"},
        content_type="application/json",
    )
    assert (response.status_code, response.json()["code"]) == (403, "missing_scope")


def test_erasure_request_over_the_api_completes(source, django_capture_on_commit_callbacks):
    build_ann(source)
    client = _client("privacy:write")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/privacy-requests/",
            {"type": "erasure", "identifier": f"email:{ANN['email']}"},
            content_type="application/json",
        )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "received"
    followed = client.get(f"/api/v1/privacy-requests/{created['id']}/").json()
    assert (followed["status"], followed["identifier"]) == ("completed", "email:[erased]")
    assert followed["outcome"] == "Completed: 1 profile(s) erased."
    assert Customer.objects.count() == 0
    request = DataSubjectRequest.objects.get()
    assert (request.requested_by, request.handled_by) == ("api_key:crm-sync", None)
    assert (request.due_at - request.created_at).days == 30


def test_a_mistyped_erasure_over_the_api_says_no_profile_matched(
    source, django_capture_on_commit_callbacks
):
    build_ann(source)
    client = _client("privacy:write")
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            "/api/v1/privacy-requests/",
            {"type": "erasure", "identifier": "email:ann.qiust@example.com"},  # typo
            content_type="application/json",
        ).json()
    followed = client.get(f"/api/v1/privacy-requests/{created['id']}/").json()
    assert followed["status"] == "no_match"
    assert followed["outcome"].startswith("No profile matched this identifier")
    assert Customer.objects.count() == 1  # Ann is still there: the steward must look again


def test_access_request_over_the_api_offers_the_zip(source, django_capture_on_commit_callbacks):
    build_ann(source)
    client = _client("privacy:write")
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            "/api/v1/privacy-requests/",
            {"type": "access", "identifier": f"user_id:{ANN['user_id']}"},
            content_type="application/json",
        ).json()
    followed = client.get(f"/api/v1/privacy-requests/{created['id']}/").json()
    assert followed["status"] == "completed"
    download = client.get(followed["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert b"".join(download.streaming_content)[:2] == b"PK"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"type": "erasure", "identifier": "ann@example.com"}, "invalid_identifier"),
        ({"type": "erasure", "identifier": "email:nope"}, "invalid_email"),
        ({"type": "forget", "identifier": "email:ann@example.com"}, "invalid"),
    ],
)
def test_bad_privacy_requests_are_400(db, body, code):
    response = _client("privacy:write").post(
        "/api/v1/privacy-requests/", body, content_type="application/json"
    )
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert DataSubjectRequest.objects.count() == 0
