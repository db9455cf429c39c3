"""The documented deployment (gunicorn, DEBUG off) serves the admin's own
CSS and JavaScript: nothing else in front of it serves STATIC_ROOT."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str):
    return urllib.request.urlopen(url, timeout=5)  # noqa: S310 - loopback test server


@pytest.fixture
def production_server(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "static-test-" + "x" * 50,
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'static.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        "CELERY_BROKER_URL": "",
    }
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
    )
    port = _free_port()
    gunicorn = Path(python).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "cdp_site.wsgi:application", "--bind", f"127.0.0.1:{port}", "-w", "1"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                _get(f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_production_server_serves_the_admin_stylesheet_hashed_and_long_cached(
    production_server,
):
    login_page = _get(f"{production_server}/admin/login/").read().decode()
    stylesheet = re.search(r'href="(/static/unfold/css/styles\.[0-9a-f]{12}\.css)"', login_page)
    assert stylesheet, "the login page links the theme's hashed stylesheet"

    response = _get(production_server + stylesheet.group(1))

    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/css")
    assert "max-age=315360000" in response.headers["Cache-Control"]
    assert b"body" in response.read()
