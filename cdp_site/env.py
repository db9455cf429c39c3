"""Typed, validated reading of settings from the environment.

A bad value fails loudly at start-up (ImproperlyConfigured) instead of
surfacing later as odd behaviour.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_database_url(url: str, *, base_dir: Path) -> dict:
    """Turn ``sqlite:///path`` or ``postgres://user:pw@host:port/name`` into a DATABASES entry."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        raw_path = unquote(parts.path)
        if parts.netloc:
            raise ImproperlyConfigured(
                "DATABASE_URL: use sqlite:///relative.db or sqlite:////abs.db"
            )
        path = raw_path[1:] if raw_path.startswith("/") else raw_path
        if path == ":memory:":
            name = ":memory:"
        else:
            resolved = Path(path) if Path(path).is_absolute() else base_dir / path
            resolved.parent.mkdir(parents=True, exist_ok=True)
            name = str(resolved)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name,
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    if scheme in {"postgres", "postgresql", "pgsql"}:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured("DATABASE_URL for PostgreSQL must name a database")
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        # ?pool=N: a psycopg pool of at most N connections per process instead
        # of persistent ones. Under the uvicorn workers each request runs in a
        # thread of its own, so persistent connections pile up (one per
        # request thread, until "too many clients"); a pool hands them back.
        pool = options.pop("pool", "")
        max_age = int(options.pop("conn_max_age", "60"))
        if pool:
            size = int(pool) if pool.isdigit() else 4
            options["pool"] = {"min_size": 1, "max_size": max(size, 1)}
            max_age = 0
        config = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": max_age,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
        test_name = os.environ.get("TEST_DATABASE_NAME")
        if test_name:
            config["TEST"] = {"NAME": test_name}
        return config
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {scheme!r} is not supported (use sqlite:// or postgres://)"
    )
