import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from cdp_site.env import env_bool, env_int, parse_database_url
from core.crypto import development_key, generate_key

ROOT = Path(__file__).resolve().parents[2]


def test_postgres_url_is_parsed(tmp_path):
    config = parse_database_url("postgres://app:s%40cret@db.local:6543/cdp", base_dir=tmp_path)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["PORT"], config["NAME"]) == (
        "app",
        "s@cret",
        "db.local",
        "6543",
        "cdp",
    )


def test_sqlite_url_is_relative_to_project(tmp_path):
    config = parse_database_url("sqlite:///var/x.sqlite3", base_dir=tmp_path)
    assert config["NAME"] == str(tmp_path / "var" / "x.sqlite3")


def test_a_connection_pool_replaces_persistent_connections(tmp_path):
    plain = parse_database_url("postgres://db.local/cdp", base_dir=tmp_path)
    assert plain["CONN_MAX_AGE"] == 60
    assert "pool" not in plain["OPTIONS"]
    pooled = parse_database_url("postgres://db.local/cdp?pool=3", base_dir=tmp_path)
    assert pooled["CONN_MAX_AGE"] == 0  # Django refuses a pool with persistent connections
    assert pooled["OPTIONS"] == {"pool": {"min_size": 1, "max_size": 3}}
    default = parse_database_url("postgres://db.local/cdp?pool=true", base_dir=tmp_path)
    assert default["OPTIONS"]["pool"]["max_size"] == 4


@pytest.mark.parametrize("url", ["mysql://x/y", "postgres://host/", "sqlite://host/x"])
def test_unsupported_database_urls_fail_loudly(url, tmp_path):
    with pytest.raises(ImproperlyConfigured):
        parse_database_url(url, base_dir=tmp_path)


def test_bad_boolean_and_integer_fail_loudly(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    monkeypatch.setenv("X_NUM", "ten")
    with pytest.raises(ImproperlyConfigured):
        env_bool("X_FLAG", False)
    with pytest.raises(ImproperlyConfigured):
        env_int("X_NUM", 1)


def _manage(*args, **env):
    unset = {"DEBUG", "SECRET_KEY", "TRIBUTARY_ENCRYPTION_KEYS"}
    base = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_mode_refuses_to_start_without_secret_key():
    result = _manage("check", DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_check_deploy_is_clean_when_debug_is_off():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="cdp.example.com",
        TRIBUTARY_ENCRYPTION_KEYS=f"{generate_key()},{generate_key()}",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_refuses_production_without_encryption_keys():
    result = _manage(
        "check",
        "--deploy",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="cdp.example.com",
    )
    assert result.returncode != 0
    assert "core.E001" in result.stderr


def test_check_deploy_refuses_the_development_encryption_key():
    secret_key = secrets.token_urlsafe(50)
    result = _manage(
        "check",
        "--deploy",
        DEBUG="false",
        SECRET_KEY=secret_key,
        ALLOWED_HOSTS="cdp.example.com",
        TRIBUTARY_ENCRYPTION_KEYS=development_key(secret_key),
    )
    assert result.returncode != 0
    assert "core.E002" in result.stderr


def test_a_malformed_encryption_key_stops_the_start_without_quoting_it():
    result = _manage("check", DEBUG="true", TRIBUTARY_ENCRYPTION_KEYS="not-a-fernet-key")
    assert result.returncode != 0
    assert "TRIBUTARY_ENCRYPTION_KEYS: key 1 is not a Fernet key" in result.stderr
    assert "not-a-fernet-key" not in result.stderr


def test_health_endpoint_reports_database(client, db):
    response = client.get("/healthz")
    assert response.json()["status"] == "ok"


def test_cache_url_must_be_redis():
    result = _manage("check", DEBUG="true", CACHE_URL="memcached://x")
    assert result.returncode != 0
    assert "CACHE_URL must be a redis:// URL" in result.stderr


def test_shared_cache_is_redis_when_configured():
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.CACHES['default'])",
        DEBUG="true",
        CACHE_URL="redis://127.0.0.1:6379/3",
    )
    assert "RedisCache" in result.stdout


def test_manage_py_runs_in_development_mode_on_a_bare_checkout():
    result = _manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout


def test_the_purchase_event_defaults_to_order_completed_and_refuses_an_empty_name():
    from django.conf import settings

    assert settings.TRIBUTARY_PURCHASE_EVENT == "Order Completed"
    result = _manage("check", DEBUG="true", TRIBUTARY_PURCHASE_EVENT="  ")
    assert result.returncode != 0
    assert "TRIBUTARY_PURCHASE_EVENT must be an event name" in result.stderr


def test_workers_apply_intake_calls_a_thousand_at_a_time_by_default(settings):
    assert "TRIBUTARY_INTAKE_BATCH_SIZE" not in os.environ
    assert settings.TRIBUTARY_INTAKE_BATCH_SIZE == 1000
