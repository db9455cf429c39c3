"""The tracking API under hostile input: a 4xx naming the problem, the other
calls of a batch stored and processed, nothing that fails later."""

import base64
import json
from datetime import UTC, datetime

import pytest

from customers.models import Event, Identity
from sources.models import IntakeMessage, RejectedMessage
from sources.services.parsing import corrected_timestamp

GOOD = {"type": "track", "userId": "good-1", "event": "Order Completed"}


def _raw_call(fragment: str) -> bytes:
    """A track call whose properties hold ``fragment`` verbatim (JSON text)."""
    return ('{"userId": "u-1", "event": "Viewed", "properties": {"x": ' + fragment + "}}").encode()


def _raw_batch(fragment: str) -> bytes:
    bad = '{"type": "track", "userId": "u-1", "event": "Viewed", "properties": {"x": '
    return ('{"batch": [' + json.dumps(GOOD) + ", " + bad + fragment + "}}]}").encode()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(send, constant):
    response = send("/v1/batch", None, raw=_raw_batch(constant))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"
    assert constant.lstrip("-") in response.json()["message"]
    assert not IntakeMessage.objects.exists()
    assert RejectedMessage.objects.get().code == "invalid_json"


UNSTORABLE = [
    ("1e999", "number_out_of_range", "properties.x"),
    ("-1e999", "number_out_of_range", "properties.x"),
    ("1" * 400, "number_out_of_range", "properties.x"),
    ("1" + "0" * 5000, "number_out_of_range", "properties.x"),  # past Python's digit limit
    ('"\\ud800"', "invalid_string", "properties.x"),
    ('{"\\udfff key": 1}', "invalid_string", "properties.x.\ufffd key"),
    ('"a\\u0000b"', "invalid_character", "properties.x"),
]


@pytest.mark.parametrize(("fragment", "code", "field"), UNSTORABLE)
def test_unstorable_value_refuses_the_single_call(send, fragment, code, field):
    response = send("/v1/track", None, raw=_raw_call(fragment))
    assert response.status_code == 400
    assert response.json() == {"code": code, "message": response.json()["message"], "field": field}
    assert not IntakeMessage.objects.exists()
    assert RejectedMessage.objects.get().code == code


@pytest.mark.parametrize(("fragment", "code", "field"), UNSTORABLE)
def test_unstorable_value_refuses_only_its_call_in_a_batch(send, fragment, code, field):
    response = send("/v1/batch", None, raw=_raw_batch(fragment))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["accepted"] == 1
    assert [(r["index"], r["code"], r["field"]) for r in body["rejected"]] == [(1, code, field)]
    # the good call is stored and processed; the bad one is kept, mended, for the record
    assert Event.objects.get().name == "Order Completed"
    assert IntakeMessage.objects.get().status == IntakeMessage.Status.PROCESSED
    rejected = RejectedMessage.objects.get()
    assert rejected.code == code
    assert rejected.payload["event"] == "Viewed"
    assert "\x00" not in json.dumps(rejected.payload, ensure_ascii=False)


def test_backslash_u0000_text_is_not_a_nul(send):
    response = send("/v1/track", {"userId": "u-1", "event": "A", "properties": {"x": "\\u0000"}})
    assert response.status_code == 200
    assert Event.objects.get().properties["x"] == "\\u0000"


def test_big_but_finite_numbers_are_kept(send):
    properties = {"big": 1e308, "long": 10**30, "small": 5e-324}
    response = send("/v1/track", {"userId": "u-1", "event": "A", "properties": properties})
    assert response.status_code == 200
    stored = Event.objects.get().properties
    assert float(stored["big"]) == 1e308
    assert int(stored["long"]) == 10**30


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("timestamp", "0001-01-01T00:00:00Z"),
        ("timestamp", "9999-12-31T23:59:59Z"),
        ("timestamp", "1900-01-01T00:00:00+14:00"),  # 1899 in UTC
        ("originalTimestamp", "2201-01-01T00:00:00Z"),
        ("sentAt", "0001-01-01T00:00:00Z"),
        ("sentAt", "9999-12-31T23:59:59-12:00"),
    ],
)
def test_timestamps_outside_1900_to_2200_are_refused_per_call(send, key, value):
    single = send("/v1/track", {"userId": "u-1", "event": "A", key: value})
    assert single.status_code == 400
    assert (single.json()["code"], single.json()["field"]) == ("invalid_timestamp", key)
    batch = send(
        "/v1/batch", {"batch": [GOOD, {"type": "track", "userId": "u", "event": "A", key: value}]}
    )
    assert batch.status_code == 200
    assert [(r["index"], r["code"]) for r in batch.json()["rejected"]] == [(1, "invalid_timestamp")]
    assert Event.objects.get().name == "Order Completed"


def test_extreme_but_allowed_times_do_not_overflow(send):
    call = {
        "userId": "u-1",
        "event": "A",
        "timestamp": "2200-12-31T23:59:59Z",
        "sentAt": "1900-01-01T00:00:00Z",
    }
    response = send("/v1/track", call)
    assert response.status_code == 200
    event = Event.objects.get()
    # the skew correction would leave the range: the client's time is kept
    assert event.timestamp == datetime(2200, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_corrected_timestamp_stays_in_range():
    received = datetime(2026, 5, 1, tzinfo=UTC)
    early = datetime(1900, 1, 1, tzinfo=UTC)
    late = datetime(2200, 12, 31, tzinfo=UTC)
    assert corrected_timestamp(original=early, sent_at=late, received_at=received) == early
    assert corrected_timestamp(original=late, sent_at=early, received_at=received) == late


@pytest.mark.parametrize("user_id", [1e308, 1.5, -0.0])
def test_float_user_id_is_refused_rather_than_failing_later(send, user_id):
    response = send("/v1/identify", {"userId": user_id, "traits": {"plan": "pro"}})
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("invalid_field", "userId")
    assert not IntakeMessage.objects.exists()


def test_integer_user_id_survives_the_storage_round_trip(send):
    response = send("/v1/identify", {"userId": 10**30, "traits": {"plan": "pro"}})
    assert response.status_code == 200
    intake = IntakeMessage.objects.get()
    assert intake.status == IntakeMessage.Status.PROCESSED, intake.error
    assert Identity.objects.get(type__name="user_id").value == str(10**30)


def test_external_id_longer_than_an_identifier_is_refused(send):
    context = {"externalIds": [{"type": "crm_id", "id": "x" * 300}]}
    response = send("/v1/identify", {"userId": "u-1", "context": context})
    assert response.status_code == 400
    assert response.json()["code"] == "identifier_too_long"


def test_write_key_in_the_body_is_never_stored(send, keyed_source):
    _source, key = keyed_source
    response = send("/v1/track", {"userId": "u-1", "event": "A"}, auth="body")
    assert response.status_code == 200
    calls = [
        {"type": "track", "userId": "u-2", "event": "B", "writeKey": key},
        {"type": "track", "userId": "u-3", "writeKey": key},  # refused: no event name
    ]
    response = send("/v1/batch", {"batch": calls}, auth="body")
    assert response.status_code == 200
    # a body refused as a whole keeps its first bytes, without the key
    send("/v1/track", None, raw=b'{"writeKey": "' + key.encode() + b'", "x": ')
    stored = [m.payload for m in IntakeMessage.objects.all()]
    stored += [r.payload for r in RejectedMessage.objects.all()]
    assert len(stored) == 4
    assert key not in json.dumps(stored)
    assert all("writeKey" not in payload for payload in stored[:3])


class _UnreadableBody:
    """A request body that must not be read."""

    def read(self, *args):
        raise AssertionError("the body was read before the write key was checked")

    readline = read


def test_header_key_is_checked_before_the_body_is_read(client, db):
    token = base64.b64encode(b"wk_not_a_key:").decode()
    response = client.generic(
        "POST",
        "/v1/batch",
        b"",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {token}",
        CONTENT_LENGTH="400000",
        **{"wsgi.input": _UnreadableBody()},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_write_key"


def test_garbage_content_length_is_a_400(send):
    response = send("/v1/track", {"userId": "u", "event": "A"}, headers={"CONTENT_LENGTH": "12abc"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_content_length"
