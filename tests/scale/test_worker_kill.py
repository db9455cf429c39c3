"""A real Celery worker on Redis, killed mid-stream, loses and duplicates nothing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from base64 import b64encode
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from cdp_site.celery import app as celery_app
from customers.models import Event
from sources.models import IntakeMessage
from sources.services.keys import create_source

ROOT = Path(__file__).resolve().parents[2]
BROKER = "redis://127.0.0.1:6379/14"
# a key prefix of its own, so parallel runs sharing this Redis never mix tasks
KEY_PREFIX = f"tributary-test-{uuid.uuid4().hex[:12]}:"
MESSAGES = 600
BATCH = 25


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _worker_env() -> dict[str, str]:
    db = connection.settings_dict
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{host}/{db['NAME']}"
    return {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": BROKER,
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "CELERY_REDIS_KEY_PREFIX": KEY_PREFIX,
        "CELERY_WORKER_PREFETCH_MULTIPLIER": "1",
    }


def _start_worker() -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "cdp_site",
            "worker",
            "-c",
            "2",
            "-l",
            "warning",
            "-Q",
            ",".join(settings.TRIBUTARY_CELERY_QUEUES),
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=_worker_env(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


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


@pytest.fixture
def celery_on_redis():
    """Publish this process's tasks to Redis instead of running them inline."""
    conf = celery_app.conf
    saved = (conf.broker_url, conf.task_always_eager, conf.broker_transport_options)
    conf.broker_url = BROKER
    conf.task_always_eager = False
    conf.broker_transport_options = {
        **conf.broker_transport_options,
        "visibility_timeout": 3,
        "global_keyprefix": KEY_PREFIX,
    }
    _reset_connections()
    yield
    conf.broker_url, conf.task_always_eager, conf.broker_transport_options = saved
    _reset_connections()


def _reset_connections() -> None:
    """Forget the app's pools so the next publish uses the current broker_url.

    The pools are kombu's process-wide ones, keyed by broker URL: closing them
    would break every later publish to the same URL (eager tasks acquire a
    producer too), so they are only dropped from the app, not closed.
    """
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


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
    worker = _start_worker()
    try:
        for start in range(0, MESSAGES, BATCH):
            assert _post_batch(live_server.url, key, messages[start : start + BATCH]) == 200
            if start == MESSAGES // 3:
                # let the worker get going, then kill it (and its pool children) hard
                deadline = time.monotonic() + 60
                while not Event.objects.exists() and time.monotonic() < deadline:
                    time.sleep(0.2)
                _kill(worker)
                worker = _start_worker()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            done = IntakeMessage.objects.filter(status=IntakeMessage.Status.PROCESSED).count()
            if done == MESSAGES:
                break
            time.sleep(0.5)
    finally:
        _kill(worker)

    assert IntakeMessage.objects.count() == MESSAGES
    assert IntakeMessage.objects.filter(status=IntakeMessage.Status.PROCESSED).count() == MESSAGES
    stored = list(Event.objects.values_list("message_id", flat=True))
    assert len(stored) == MESSAGES
    assert set(stored) == {m["messageId"] for m in messages}
