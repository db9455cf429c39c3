"""Batch-level fields (sentAt, context, integrations) under hostile input:
a 4xx per call or for the body, never a 500, nothing stored half-read."""

import json

import pytest

from customers.models import Event
from sources.models import IntakeMessage, RejectedMessage

GOOD = {"type": "track", "userId": "good-1", "event": "Order Completed"}


@pytest.mark.parametrize(
    "sent_at", ["tomorrow", 1700000000, "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", ["x"]]
)
def test_bad_batch_sent_at_refuses_each_call_it_reaches(send, sent_at):
    response = send(
        "/v1/batch",
        {"batch": [GOOD, {**GOOD, "sentAt": "2026-01-01T00:00:00Z"}], "sentAt": sent_at},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1
    assert [(r["index"], r["code"], r["field"]) for r in body["rejected"]] == [
        (0, "invalid_timestamp", "sentAt")
    ]
    assert RejectedMessage.objects.get().field == "sentAt"


def test_bad_batch_sent_at_on_every_call_is_a_400(send):
    response = send("/v1/batch", {"batch": [GOOD], "sentAt": "not a time"})
    assert response.status_code == 400
    assert response.json()["code"] == "no_valid_calls"
    assert not IntakeMessage.objects.exists()


@pytest.mark.parametrize("key", ["context", "integrations"])
@pytest.mark.parametrize("value", ["text", [1, 2], 42, True])
def test_batch_level_object_of_the_wrong_type_refuses_the_body(send, key, value):
    response = send("/v1/batch", {"batch": [GOOD], key: value})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_batch"
    assert not IntakeMessage.objects.exists()


def test_huge_batch_context_is_refused_once_not_copied_into_every_call(send):
    context = {"blob": "x" * 40_000}
    response = send("/v1/batch", {"batch": [GOOD] * 10, "context": context})
    assert response.status_code == 413
    assert response.json()["code"] == "message_too_large"
    assert not IntakeMessage.objects.exists()


def test_batch_context_that_makes_a_call_too_big_refuses_that_call(send):
    big_call = {**GOOD, "properties": {"note": "y" * 20_000}}
    response = send("/v1/batch", {"batch": [GOOD, big_call], "context": {"blob": "x" * 20_000}})
    assert response.status_code == 200
    assert [r["code"] for r in response.json()["rejected"]] == ["message_too_large"]


def test_deeply_nested_batch_context_is_a_400(send):
    context: dict = {}
    node = context
    for _ in range(40):
        node["x"] = {}
        node = node["x"]
    response = send("/v1/batch", {"batch": [GOOD], "context": context})
    assert response.status_code == 400
    assert response.json()["code"] == "too_deep"


def test_batch_context_with_a_nul_is_a_400(send):
    raw = json.dumps({"batch": [GOOD], "context": {"note": "a\u0000b"}}).encode()
    response = send("/v1/batch", None, raw=raw)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_character"
    assert not Event.objects.exists()
