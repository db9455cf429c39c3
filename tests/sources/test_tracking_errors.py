"""Bad input: always a 4xx JSON answer naming the problem, never a 500."""

import base64
import gzip
import json

import pytest

from customers.models import DataQualityIssue, Identity
from sources.models import IntakeMessage, RejectedMessage
from sources.services.keys import create_source
from sources.services.parsing import MAX_BATCH_BYTES, MAX_BATCH_MESSAGES, MAX_MESSAGE_BYTES


def _nested(depth):
    value = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"userId": "u", "event": ', "invalid_json"),
        (b'["not", "an", "object"]', "not_an_object"),
        (b'"just a string"', "not_an_object"),
        (b'{"userId": "\xff\xfe", "event": "A"}', "invalid_encoding"),
        (json.dumps({"userId": "u", "event": "A", "properties": _nested(40)}).encode(), "too_deep"),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, "too_deep"),
    ],
)
def test_unreadable_body_is_refused_and_recorded(send, raw, code):
    response = send("/v1/track", None, raw=raw)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert RejectedMessage.objects.get().code == code
    assert not IntakeMessage.objects.exists()


def test_broken_gzip_is_refused(send):
    body = gzip.compress(b'{"userId": "u", "event": "A"}')[:-12]
    response = send("/v1/track", None, raw=body, headers={"HTTP_CONTENT_ENCODING": "gzip"})
    assert response.status_code == 400
    assert response.json()["code"] in {"invalid_gzip"}


def test_not_gzip_at_all_is_refused(send):
    response = send(
        "/v1/track", None, raw=b'{"userId": "u"}', headers={"HTTP_CONTENT_ENCODING": "gzip"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_gzip"


def test_gzip_bomb_is_refused_without_inflating_it(send):
    bomb = gzip.compress(b"{" + b" " * (50 * 1024 * 1024) + b"}", compresslevel=9)
    assert len(bomb) < MAX_BATCH_BYTES
    response = send("/v1/batch", None, raw=bomb, headers={"HTTP_CONTENT_ENCODING": "gzip"})
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ({"userId": {"id": 1}, "event": "A"}, "invalid_field", "userId"),
        ({"userId": "u", "event": ["A"]}, "invalid_field", "event"),
        ({"userId": "u", "event": "A", "properties": "cheap"}, "invalid_field", "properties"),
        ({"userId": "u", "event": "A", "timestamp": "yesterday"}, "invalid_timestamp", "timestamp"),
        ({"userId": "u", "event": "A", "timestamp": 1700000000}, "invalid_timestamp", "timestamp"),
        ({"userId": "u", "event": "A", "sentAt": "2026-13-45"}, "invalid_timestamp", "sentAt"),
        ({"userId": "u", "event": "A", "messageId": {"x": 1}}, "invalid_message_id", "messageId"),
        ({"userId": "u"}, "missing_event", "event"),
        ({"event": "A"}, "missing_identifier", "userId"),
        ({"userId": "undefined", "event": "A"}, "missing_identifier", "userId"),
        (
            {"anonymousId": "00000000-0000-0000-0000-000000000000", "event": "A"},
            "missing_identifier",
            "userId",
        ),
        ({"userId": "u", "event": "A", "context": {"traits": "x"}}, "invalid_field", "traits"),
    ],
)
def test_invalid_track_call_is_refused_with_its_code(send, payload, code, field):
    response = send("/v1/track", payload)
    assert response.status_code == 400
    assert response.json() == {"code": code, "message": response.json()["message"], "field": field}
    rejected = RejectedMessage.objects.get()
    assert (rejected.code, rejected.field, rejected.payload) == (code, field, payload)
    assert not IntakeMessage.objects.exists()


@pytest.mark.parametrize(
    ("path", "payload", "code"),
    [
        ("/v1/group", {"userId": "u"}, "missing_group_id"),
        ("/v1/group", {"userId": "u", "groupId": "null"}, "missing_group_id"),
        ("/v1/alias", {"userId": "u"}, "missing_identifier"),
        ("/v1/alias", {"previousId": "p"}, "missing_identifier"),
        ("/v1/identify", {"userId": "u", "traits": "vip"}, "invalid_field"),
    ],
)
def test_call_specific_requirements(send, path, payload, code):
    response = send(path, payload)
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_junk_user_id_is_not_used_but_reported_when_anonymous_id_is_real(send):
    response = send("/v1/track", {"userId": "null", "anonymousId": "dev-1", "event": "A"})
    assert response.status_code == 200
    assert list(Identity.objects.values_list("type__name", "value")) == [("anonymous_id", "dev-1")]
    issue = DataQualityIssue.objects.get()
    assert (issue.field, issue.value, issue.code) == ("user_id", "null", "junk_identifier")


def test_message_over_32_kb_is_refused(send):
    response = send(
        "/v1/track", {"userId": "u", "event": "A", "properties": {"x": "y" * MAX_MESSAGE_BYTES}}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


def test_batch_call_over_32_kb_is_rejected_alone(send):
    big = {
        "type": "track",
        "userId": "u",
        "event": "Big",
        "properties": {"x": "y" * MAX_MESSAGE_BYTES},
    }
    small = {"type": "track", "userId": "u", "event": "Small"}
    response = send("/v1/batch", {"batch": [big, small]})
    assert response.status_code == 200
    assert [r["code"] for r in response.json()["rejected"]] == ["message_too_large"]
    assert IntakeMessage.objects.get().payload["event"] == "Small"


def test_batch_over_500_kb_is_refused(send):
    calls = [{"type": "track", "userId": "u", "event": "A", "properties": {"x": "y" * 20000}}] * 30
    response = send("/v1/batch", {"batch": calls})
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


def test_batch_with_too_many_calls_is_refused(send):
    calls = [{"type": "track", "userId": "u", "event": "A"}] * (MAX_BATCH_MESSAGES + 1)
    response = send("/v1/batch", {"batch": calls})
    assert response.status_code == 413
    assert response.json()["code"] == "too_many_messages"
    assert not IntakeMessage.objects.exists()


def test_batch_that_is_not_a_list_is_refused(send):
    response = send("/v1/batch", {"batch": {"type": "track"}})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_batch"


@pytest.mark.parametrize("auth", ["basic", "body"])
def test_unknown_write_key_gets_401(client, db, auth):
    body = {"userId": "u", "event": "A"}
    headers = {}
    if auth == "basic":
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(b"wk_nope:").decode()
    else:
        body["writeKey"] = "wk_nope"
    response = client.post("/v1/track", body, content_type="application/json", **headers)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_write_key"


def test_missing_write_key_gets_401(client, db):
    response = client.post(
        "/v1/track", {"userId": "u", "event": "A"}, content_type="application/json"
    )
    assert response.status_code == 401


def test_malformed_authorization_header_gets_401(client, db):
    response = client.post(
        "/v1/track", {}, content_type="application/json", HTTP_AUTHORIZATION="Basic %%%"
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_write_key"


def test_disabled_source_gets_401(client, db):
    source, key = create_source(name="Old site", kind="website")
    source.enabled = False
    source.save(update_fields=["enabled"])
    response = client.post(
        "/v1/track", {"userId": "u", "event": "A", "writeKey": key}, content_type="application/json"
    )
    assert response.status_code == 401


def test_get_is_not_allowed(client, db):
    response = client.get("/v1/track")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_nul_character_is_refused(send):
    response = send("/v1/track", None, raw=b'{"userId": "u", "event": "A\\u0000B"}')
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_character"
