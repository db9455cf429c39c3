"""The documented deployment (``gunicorn -c deploy/gunicorn.conf.py``) under
slow clients, and what its access log keeps out.

A real gunicorn is started on loopback with a throwaway SQLite database:
64 sockets dribble their headers or bodies one byte a second while
``/healthz`` must keep answering in under 2 s. (Sync gunicorn workers, the
former deployment, stop answering as soon as the slow sockets outnumber them.)
"""

import base64
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"
SLOW_SOCKETS = 64


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """gunicorn with the shipped configuration; yields (port, access log path)."""
    work = tmp_path_factory.mktemp("server")
    port = _free_port()
    access_log = work / "access.log"
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "slow-clients-test-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "",
        "CACHE_URL": "",
        "TRIBUTARY_ACCESS_LOG": str(access_log),
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [str(GUNICORN), "-c", "deploy/gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "-w", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120  # a busy machine starts gunicorn slowly
        while True:
            with contextlib.suppress(OSError):
                if _get(port, "/healthz")[0] == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                # stop it first: reading stderr of a live server waits forever
                process.kill()
                raise RuntimeError(process.communicate(timeout=20)[1].decode()[-3000:])
            time.sleep(0.2)
        yield port, access_log
    finally:
        process.terminate()
        process.wait(timeout=20)


def _get(port: int, path: str, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _dribble(port: int, head: bytes, stop: threading.Event, sockets: list, closed: list) -> None:
    """Open a socket and send ``head`` one byte a second until ``stop``."""
    connection = socket.create_connection(("127.0.0.1", port))
    sockets.append(connection)
    for byte in head:
        if stop.wait(1):
            return
        try:
            connection.send(bytes([byte]))
        except OSError:  # the server may close a connection it has given up on
            closed.append(head[:20])
            return


def test_slow_clients_do_not_take_the_site_offline(server):
    port, _log = server
    body_head = (
        b"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 400000\r\n\r\n"
    )
    stop = threading.Event()
    sockets: list[socket.socket] = []
    closed: list[bytes] = []
    threads = []
    for index in range(SLOW_SOCKETS):
        if index % 2:  # headers complete at once, then the body a byte a second
            connection = socket.create_connection(("127.0.0.1", port))
            connection.sendall(body_head)
            sockets.append(connection)
            head = b'{"batch": [' * 100
        else:  # the request line and headers a byte a second
            head = body_head
        threads.append(threading.Thread(target=_dribble, args=(port, head, stop, sockets, closed)))
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.2)  # every slow socket is connected and has sent something
        latencies = []
        for _ in range(3):
            started = time.monotonic()
            status, _body = _get(port, "/healthz")
            latencies.append(time.monotonic() - started)
            assert status == 200
            time.sleep(0.3)
        assert max(latencies) < 2, (latencies, closed)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for connection in sockets:
            connection.close()


def test_a_body_over_the_cap_is_refused_before_it_is_read(server):
    port, _log = server
    connection = socket.create_connection(("127.0.0.1", port), timeout=5)
    with connection:
        connection.sendall(
            b"POST /api/v1/imports/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\n"
            b"Content-Length: 10000000000\r\n\r\n"
        )
        answer = b""
        while chunk := connection.recv(4096):  # the server closes the connection
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413")
    assert b'"code": "body_too_large"' in answer


def test_access_log_keeps_out_write_keys_and_emails(server):
    port, access_log = server
    write_key = "wk_live_" + "s3cr3t" * 4
    basic = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    _get(port, "/api/v1/profiles/email:ann.lee@example.com/", {"Authorization": basic})
    _get(port, "/api/v1/customers/?q=bob%40example.com", {"Authorization": basic})
    _get(port, "/api/v1/profiles/phone:+4915112345678/")
    deadline = time.monotonic() + 5
    while "/api/v1/customers/" not in access_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    text = access_log.read_text()
    assert "/api/v1/profiles/email:a•••@•••.com/" in text
    for secret in (write_key, "ann.lee@example.com", "bob", "4915112345678"):
        assert secret not in text
