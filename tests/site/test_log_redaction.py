"""One log filter on every handler: emails, phones and secrets never reach a log line."""

import base64
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from accounts.masking import RedactContactDetails, redact_log_text
from accounts.services.api_keys import create_api_key
from accounts.services.auth_tokens import generate_token_key
from destinations.services.signing import generate_secret
from sources.services.keys import create_source

ROOT = Path(__file__).resolve().parents[2]
logger = logging.getLogger("tributary.tests.logs")

# How PostgreSQL (psycopg) words a jsonb error: it quotes the JSON it refused.
PG_JSON_ERROR = (
    "unsupported Unicode escape sequence\n"
    "DETAIL:  \\u0000 cannot be converted to text.\n"
    'CONTEXT:  JSON data, line 1: {"traits": {"email": "ann.quist@example.com", '
    '"phone": "(415) 555-0123", "note": "a\\u0000...\n'
)


def test_every_configured_handler_has_the_filter(configured_log_handlers):
    assert set(settings.LOGGING["handlers"]) == {"console", "django.server"}
    for name, handler in settings.LOGGING["handlers"].items():
        assert handler["filters"] == ["redact"], name
    assert set(settings.LOGGING["loggers"]) == {"django", "django.server"}
    # Django's default handlers (e.g. runserver's request lines) are all replaced
    assert configured_log_handlers
    for handler in configured_log_handlers:
        if type(handler) is logging.NullHandler:  # libraries' "no output" default
            continue
        assert any(isinstance(f, RedactContactDetails) for f in handler.filters), handler


def test_a_postgresql_style_error_quoting_json_with_an_email_is_masked(captured_logs):
    try:
        try:
            raise DatabaseError(PG_JSON_ERROR)
        except DatabaseError as cause:
            raise RuntimeError("processing failed") from cause
    except RuntimeError:
        logger.exception("intake message %s failed", 42)

    text = captured_logs.getvalue()
    assert "intake message 42 failed" in text
    assert "unsupported Unicode escape sequence" in text  # the rest stays readable
    assert "The above exception was the direct cause" in text  # the whole chain
    assert "ann.quist@example.com" not in text
    assert "555-0123" not in text
    assert "a•••@•••.com" in text


@pytest.mark.postgres_only
def test_a_real_postgresql_json_error_is_masked_in_the_traceback(db, captured_logs):
    payload = '{"traits": {"email": "ann.quist@example.com"}, "note": "a\\u0000b"}'
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT %s::jsonb", [payload])
    except DatabaseError:
        logger.exception("could not store the call")

    text = captured_logs.getvalue()
    assert "JSON data" in text  # PostgreSQL quoted the payload …
    assert "ann.quist@example.com" not in text  # … and the filter masked it
    assert "a•••@•••.com" in text


def test_arguments_are_masked_in_the_written_line(captured_logs):
    logger.warning("lookup for %s from %s", "email:Ann.Quist@Example.com", "+14155550123")
    text = captured_logs.getvalue()
    assert text.strip() == "lookup for email:A•••@•••.com from •••23"


@pytest.mark.django_db
def test_write_keys_api_keys_tokens_and_webhook_secrets_are_masked(captured_logs):
    _source, write_key = create_source(name="Shop", kind="website")
    _api_key, api_key = create_api_key(name="Ops", scopes=[])
    secrets = [write_key, api_key, generate_token_key(), generate_secret()]
    basic = base64.b64encode(f"{write_key}:".encode()).decode()

    logger.info("keys: %s", " ".join(secrets))
    logger.info("headers: {'HTTP_AUTHORIZATION': 'Basic %s'}", basic)
    logger.info("Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b")
    logger.info('body: {"writeKey": "legacy-key-without-prefix", "type": "track"}')

    text = captured_logs.getvalue()
    for secret in [*secrets, basic, "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"]:
        assert secret not in text
    assert "legacy-key-without-prefix" not in text
    assert '"type": "track"' in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"phone": "(415) 555-0123"}', '{"phone": "•••"}'),
        ("{'phone_number': '0151 1234 5678'}", "{'phone_number': '•••'}"),
        ("mobile=015112345678&x=1", "mobile=•••&x=1"),
        ('"password": "hunter2"', '"password": "•••"'),
        ("tel: +44 20 7946 0958", "tel: •••"),
        ("call %2B4915112345678", "call •••78"),
        # no false alarms: ordinary numbers, words and names stay
        ("intake message 1234567 failed after 2024-05-01", None),
        ("Token authentication failed for hotel telephone", None),
        ("previous_secret_expires_at=2026-11-28", None),
    ],
)
def test_redaction_masks_phones_and_secrets_by_key_and_leaves_the_rest(text, expected):
    assert redact_log_text(text) == (text if expected is None else expected)


def test_celery_workers_log_through_the_same_filter():
    """A worker sets up its logging as Celery does; a task failure line is masked."""
    code = (
        "import django; django.setup()\n"
        "from cdp_site.celery import app\n"
        "app.log.setup_logging_subsystem(loglevel='INFO')\n"
        "import logging\n"
        "logging.getLogger('celery.app.trace').error(\n"
        "    'Task %s raised unexpected: %r', 'sources.tasks.process', "
        "ValueError('bad email ann.quist@example.com'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"DEBUG": "true", "DJANGO_SETTINGS_MODULE": "cdp_site.settings", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "raised unexpected" in result.stderr
    assert "ann.quist@example.com" not in result.stderr
    assert "a•••@•••.com" in result.stderr
