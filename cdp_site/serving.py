"""How the web process serves requests (see ``deploy/gunicorn.conf.py``).

gunicorn runs uvicorn workers on ``cdp_site.asgi``: a client that sends its
headers or body one byte a second holds a coroutine, not a worker, so slow
or stalled clients cannot take the site offline (sync workers are each held
for as long as the client takes). Django reads a request's whole body
before calling a view, so bodies are capped here, before they are read:
``BodyLimit`` answers 413 to a declared ``Content-Length`` over the cap, and
stops a chunked body the moment it passes it.
"""

from __future__ import annotations

import json
import logging

from uvicorn_worker import UvicornWorker

from accounts.masking import RedactContactDetails


class Worker(UvicornWorker):
    """uvicorn's gunicorn worker, with gunicorn's ``worker_connections`` as the
    most connections one worker holds (beyond it, new ones get a 503)."""

    CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, "server_header": False}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.config.limit_concurrency = self.cfg.worker_connections


def redact_access_log() -> None:
    """Mask emails and phone numbers (e.g. in ``/api/v1/profiles/email:…/``)
    in access-log lines; called in each worker once Django is loaded."""

    for name in ("uvicorn.access", "gunicorn.access"):
        logging.getLogger(name).addFilter(RedactContactDetails())


class BodyLimit:
    """ASGI middleware: request bodies over ``max_bytes`` get a 413 unread."""

    def __init__(self, app, *, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(send)
        received = 0
        refused = False

        async def limited_receive():
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    await self._refuse(send)
                    return {"type": "http.disconnect"}  # Django stops reading and answers nothing
            return message

        async def guarded_send(message):
            if not refused:
                await send(message)

        return await self.app(scope, limited_receive, guarded_send)

    async def _refuse(self, send) -> None:
        body = json.dumps(
            {
                "code": "body_too_large",
                "message": f"The request body is larger than {self.max_bytes} bytes.",
                "details": {},
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
