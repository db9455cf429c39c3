"""One HTTP POST to a checked address, with a timeout and no redirects.

The connection goes to the address the URL guard approved; the host name
is kept for the Host header and for TLS (SNI and certificate checks).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError

from destinations.services.urlguard import Target

EXCERPT_BYTES = 1000


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    excerpt: str
    latency_ms: int


class TransportError(Exception):
    """No HTTP answer: timeout, refused or reset connection, TLS failure."""

    def __init__(self, message: str, *, latency_ms: int) -> None:
        super().__init__(message)
        self.message = message
        self.latency_ms = latency_ms


def post(*, target: Target, body: bytes, headers: dict[str, str], timeout: float) -> Response:
    default_port = 443 if target.scheme == "https" else 80
    name = f"[{target.host}]" if ":" in target.host else target.host
    host_header = name if target.port == default_port else f"{name}:{target.port}"
    pool_options = {
        "timeout": urllib3.Timeout(connect=min(timeout, 5.0), read=timeout),
        "retries": False,
        "maxsize": 1,
    }
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            **pool_options,
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, **pool_options)
    started = time.monotonic()
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
        )
        try:
            raw = response.read(EXCERPT_BYTES)
        finally:
            response.release_conn()
    except NewConnectionError as exc:  # a subclass of TimeoutError in urllib3 2
        raise TransportError(f"connection error: {exc}", latency_ms=_since(started)) from None
    except TimeoutError as exc:
        raise TransportError(f"timeout: {exc}", latency_ms=_since(started)) from None
    except HTTPError as exc:
        raise TransportError(f"connection error: {exc}", latency_ms=_since(started)) from None
    finally:
        pool.close()
    return Response(
        status=response.status,
        headers={key.lower(): value for key, value in response.headers.items()},
        excerpt=raw.decode("utf-8", errors="replace"),
        latency_ms=_since(started),
    )


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
