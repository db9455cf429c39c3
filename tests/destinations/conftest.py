"""A real HTTP receiver on 127.0.0.1 and helpers to make outbox entries."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from consent.models import Purpose
from customers.services.identity import resolve_identity
from destinations.models import Destination
from destinations.services.operations import save_destination
from sources.contracts import NormalizedMessage
from sources.pipeline import process_message


def verify_signature(header: str, body: bytes, secret: str, tolerance: int = 300) -> bool:
    """The receiver-side check documented in the README (Webhooks)."""
    parts = [p.split("=", 1) for p in header.split(",")]
    timestamp = next(int(v) for k, v in parts if k == "t")
    if abs(time.time() - timestamp) > tolerance:
        return False
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, v) for k, v in parts if k == "v1")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    # (status, headers) answered in turn; once empty, 200.
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    delay: float = 0.0

    def answer(self, status: int, headers: dict[str, str] | None = None, times: int = 1) -> None:
        self.answers.extend([(status, headers or {})] * times)


@pytest.fixture
def receiver(db, settings):
    settings.TRIBUTARY_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.TRIBUTARY_WEBHOOK_RETRY_JITTER = 0
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            if state.delay:
                time.sleep(state.delay)
            status, headers = state.answers.pop(0) if state.answers else (200, {})
            reply = json.dumps({"status": status}).encode()
            try:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except BrokenPipeError:  # the sender timed out and left
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/tributary"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run on-commit hooks (task enqueues) as they would after a real commit."""

    def run(function, /, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(**kwargs)

    run.capture = lambda: django_capture_on_commit_callbacks(execute=True)
    return run


def make_destination(url: str, **options) -> tuple[Destination, str]:
    """A destination; by default for analytics (legitimate interest: no objection, sent)."""
    options.setdefault("purpose", Purpose.objects.get(code="analytics"))
    destination = Destination(name=options.pop("name", "CRM hook"), url=url, **options)
    secret = save_destination(destination=destination)
    return destination, secret


def new_profile(email: str = "ann@example.com"):
    """A profile made by identity resolution (writes profile.created)."""
    at = datetime(2026, 11, 1, tzinfo=UTC)
    return resolve_identity(identifiers=[("email", email)], source_id=None, seen_at=at).customer


def track(source, *, user_id: str, event: str, message_id: str, properties=None):
    at = datetime(2026, 11, 2, tzinfo=UTC)
    message = NormalizedMessage(
        source_id=source.pk,
        message_id=message_id,
        type="track",
        timestamp=at,
        received_at=at,
        user_id=user_id,
        event=event,
        properties=properties or {},
    )
    return process_message(message)
