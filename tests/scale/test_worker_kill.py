"""A real Celery worker on Redis, killed mid-stream, loses and duplicates nothing."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from base64 import b64encode

import pytest

from customers.models import Event
from sources.models import IntakeMessage
from sources.services.keys import create_source
from tests.scale.workers import kill, start_worker
from tests.services import needs_redis

MESSAGES = 600
BATCH = 25

pytestmark = [
    pytest.mark.postgres_only,
    needs_redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _post_batch(url: str, key: str, messages: list[dict]) -> int:
    request = urllib.request.Request(  # noqa: S310 - the live_server URL
        f"{url}/v1/batch",
        data=json.dumps({"batch": messages}).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": "Basic " + b64encode(f"{key}:".encode()).decode(),
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return response.status


def test_worker_killed_mid_stream_loses_and_duplicates_nothing(live_server, celery_on_redis):
    _, key = create_source(name="Worker kill", kind="server")
    messages = [
        {
            "type": "track",
            "event": "Order Completed",
            "userId": f"user-{i % 150}",
            "messageId": str(uuid.uuid4()),
            "properties": {"revenue": i},
        }
        for i in range(MESSAGES)
    ]
    worker = start_worker()
    try:
        for start in range(0, MESSAGES, BATCH):
            assert _post_batch(live_server.url, key, messages[start : start + BATCH]) == 200
            if start == MESSAGES // 3:
                # let the worker get going, then kill it (and its pool children) hard
                deadline = time.monotonic() + 60
                while not Event.objects.exists() and time.monotonic() < deadline:
                    time.sleep(0.2)
                kill(worker)
                worker = start_worker()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            done = IntakeMessage.objects.filter(status=IntakeMessage.Status.PROCESSED).count()
            if done == MESSAGES:
                break
            time.sleep(0.5)
    finally:
        kill(worker)

    assert IntakeMessage.objects.count() == MESSAGES
    assert IntakeMessage.objects.filter(status=IntakeMessage.Status.PROCESSED).count() == MESSAGES
    stored = list(Event.objects.values_list("message_id", flat=True))
    assert len(stored) == MESSAGES
    assert set(stored) == {m["messageId"] for m in messages}
