import pytest
from django.core.cache import cache
from django.test import Client

from accounts.scopes import SCOPES
from accounts.services.api_keys import create_api_key


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_api_client(db):
    """make_api_client("profiles:read", ...) -> a test client sending that key."""

    def make(*scopes: str, name: str = "test key") -> Client:
        _api_key, key = create_api_key(name=name, scopes=list(scopes))
        return Client(HTTP_AUTHORIZATION=f"Bearer {key}")

    return make


@pytest.fixture
def full_api_client(make_api_client):
    return make_api_client(*SCOPES, name="all scopes")


def assert_error(response, status: int, code: str) -> dict:
    """The one error shape: {"code", "message", "details"}."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["details"], dict)
    return body


def send(source, *, type="identify", at=None, event="", properties=None, **fields):
    """Run one message through the real pipeline; returns the profile."""
    import uuid
    from datetime import UTC, datetime

    from sources.contracts import NormalizedMessage
    from sources.pipeline import process_message

    when = at or datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    message = NormalizedMessage(
        source_id=source.pk,
        message_id=str(uuid.uuid4()),
        type=type,
        timestamp=when,
        received_at=when,
        event=event,
        properties=properties or {},
        **fields,
    )
    return process_message(message).customer
