"""Browser tests: headless Chromium driven by Playwright against a live server.

Chromium is Debian's package (``apt-get install chromium``), launched through
its executable path: Playwright's own browser download is not used. Without
it the browser tests skip with that reason; everything else still runs.

Fixtures for test modules in this folder:

- ``users``: one staff user per role — ``admin`` (superuser), ``marketer``,
  ``steward`` (Data steward) and ``viewer`` — all with password ``PASSWORD``.
- ``login(role)``: a new browser page (own cookies) logged in as that user,
  on the admin index; ``page``: an anonymous page. Both use ``base_url``, so
  ``page.goto("/admin/")`` works.
- ``live_server``: pytest-django's; the test and the server share the
  database (transactional, with serialized rollback so data seeded by
  migrations — identifier types, role groups — is there in every test).
- ``screenshot(page, name)``: saves ``artifacts/screenshots/<name>.png``.

Mark browser tests ``@pytest.mark.e2e``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connections

from accounts.roles import DATA_STEWARD, MARKETER, VIEWER

CHROMIUM = os.environ.get("TRIBUTARY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
PASSWORD = "e2e-Tributary-2026!"
ROLE_GROUPS = {"admin": None, "marketer": MARKETER, "steward": DATA_STEWARD, "viewer": VIEWER}


@pytest.fixture(scope="module")
def browser(django_db_setup) -> Iterator:
    """One Chromium per test module.

    Playwright's sync API keeps an event loop running in this thread while
    it is open, which makes Django refuse ORM calls (they are plain sync
    calls here), so DJANGO_ALLOW_ASYNC_UNSAFE is set exactly as long as the
    browser is open: never for tests outside these modules (``check
    --deploy`` rightly refuses it).

    Inside that loop Django hands out other connection objects (its
    connection registry is context-local), which lack the database state
    serialized at set-up; they get it here, so serialized rollback works.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    migrated_state = {
        conn.alias: conn._test_serialized_contents
        for conn in connections.all()
        if hasattr(conn, "_test_serialized_contents")
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            for alias, state in migrated_state.items():
                connections[alias]._test_serialized_contents = state
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            yield chromium
            chromium.close()
            connections.close_all()


@pytest.fixture
def e2e_db(browser, django_db_serialized_rollback, live_server, settings):
    """A database the live server shares, restored to its migrated state."""
    # Fast hashing for the users created per test (the server runs in-process).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    _one_request_at_a_time_on_sqlite(live_server)
    return live_server


def _one_request_at_a_time_on_sqlite(live_server) -> None:
    """On SQLite the live server's threads share the test's in-memory connection,
    so two requests a page sends at once (a tracking call while the page asks
    for its answer again) could open a transaction inside the other's
    ("cannot start a transaction within a transaction"); served one at a time
    they cannot. PostgreSQL gives each thread its own connection."""
    from django.db import connection

    httpd = live_server.thread.httpd
    if connection.vendor != "sqlite" or getattr(httpd, "serialized", False):
        return
    app, lock = httpd.get_app(), threading.Lock()

    def serialized(environ, start_response):
        with lock:
            response = app(environ, start_response)
            try:
                return list(response)
            finally:  # request_finished (Django's response.close) inside the lock too
                getattr(response, "close", lambda: None)()

    httpd.set_app(serialized)
    httpd.serialized = True


@pytest.fixture
def new_page(browser, e2e_db) -> Iterator[Callable]:
    contexts = []

    def _new_page():
        context = browser.new_context(base_url=e2e_db.url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield _new_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def users(e2e_db, django_user_model) -> dict:
    created = {}
    for name, role in ROLE_GROUPS.items():
        if role is None:
            user = django_user_model.objects.create_superuser(
                name, f"{name}@staff.example.com", PASSWORD
            )
        else:
            user = django_user_model.objects.create_user(
                name, f"{name}@staff.example.com", PASSWORD, is_staff=True
            )
            user.groups.add(Group.objects.get(name=role))
        created[name] = user
    return created


def log_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-form [type=submit]")  # the theme's button


@pytest.fixture
def login(new_page, users) -> Callable:
    def _login(role: str):
        browser_page = new_page()
        log_in(browser_page, users[role].username)
        browser_page.wait_for_url("**/admin/")
        return browser_page

    return _login


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- accessibility (axe-core, from the committed npm lockfile) ----------------

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe-core's script, installed on first use with ``npm ci`` from
    package-lock.json (a clean clone has no node_modules); the accessibility
    checks skip, saying why, on a machine without npm."""
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm not found: cannot install axe-core (package-lock.json)")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=settings.BASE_DIR,
            check=True,
            timeout=300,
        )
    return AXE.read_text()


def serious_violations(page, axe_script: str) -> list[str]:
    """axe-core's serious and critical findings on the page, one line each
    (rule, impact, the first offending elements)."""
    page.add_script_tag(content=axe_script)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(" ".join(n["target"]) for n in v["nodes"][:3])
        for v in result["violations"]
        if v["impact"] in SERIOUS
    ]
