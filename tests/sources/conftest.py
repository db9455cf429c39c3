import base64
import gzip
import json

import pytest

from sources.services.keys import create_source


@pytest.fixture
def keyed_source(db):
    return create_source(name="Web tracking", kind="website")


@pytest.fixture
def send(client, keyed_source, django_capture_on_commit_callbacks):
    """POST a tracking call; ``auth`` is "basic", "body" or None.

    Runs the after-commit callbacks (the eager processing task) as a real
    commit would.
    """
    _source, key = keyed_source

    def _send(path, payload, *, auth="basic", gzipped=False, raw=None, headers=None):
        if auth == "body" and isinstance(payload, dict):
            payload = {**payload, "writeKey": key}
        body = raw if raw is not None else json.dumps(payload).encode()
        extra = dict(headers or {})
        if gzipped:
            body = gzip.compress(body)
            extra["HTTP_CONTENT_ENCODING"] = "gzip"
        if auth == "basic":
            token = base64.b64encode(f"{key}:".encode()).decode()
            extra["HTTP_AUTHORIZATION"] = f"Basic {token}"
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(path, body, content_type="application/json", **extra)

    return _send
