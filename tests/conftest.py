import io
import logging

import pytest
from django.db import connection
from hypothesis import settings

from sources.services.keys import create_source

# Property tests without their own max_examples run 100 examples (CI);
# `make test-thorough` picks the thorough profile.
settings.register_profile("thorough", max_examples=1000)


def pytest_collection_modifyitems(config, items):
    if connection.vendor != "postgresql":
        skip = pytest.mark.skip(reason="needs PostgreSQL")
        for item in items:
            if "postgres_only" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (dashboard figures, rate limits, lockouts)
    and no API key remembered from another test."""
    from django.core.cache import cache

    from accounts.services.api_keys import forget_verified_keys

    cache.clear()
    forget_verified_keys()
    yield
    cache.clear()
    forget_verified_keys()


@pytest.fixture
def source(db):
    created, _key = create_source(name="Test website", kind="website")
    return created


@pytest.fixture
def source_with_key(db):
    return create_source(name="Keyed website", kind="website")


@pytest.fixture
def steward(db, django_user_model):
    """A staff user in the Data steward role (may merge profiles by hand)."""
    from django.contrib.auth.models import Group

    from accounts.roles import DATA_STEWARD

    user = django_user_model.objects.create_user(
        "merging-steward", password="pw-123456789", is_staff=True
    )
    user.groups.add(Group.objects.get(name=DATA_STEWARD))
    return user


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-123456789")
    client.force_login(user)
    return client


def _configured_log_handlers() -> list[logging.Handler]:
    """Every handler our logging configuration attached (pytest's own left out)."""
    loggers = [logging.getLogger(), *logging.root.manager.loggerDict.values()]
    handlers = {
        handler
        for logger in loggers
        if isinstance(logger, logging.Logger)
        for handler in logger.handlers
        if not type(handler).__module__.startswith("_pytest")
    }
    return sorted(handlers, key=id)


@pytest.fixture
def configured_log_handlers():
    return _configured_log_handlers()


@pytest.fixture
def captured_logs():
    """What the configured log handlers write during the test, after their filters."""
    buffer = io.StringIO()
    swapped = [
        (handler, handler.setStream(buffer))
        for handler in _configured_log_handlers()
        if isinstance(handler, logging.StreamHandler)
    ]
    assert swapped, "no stream handler configured"
    yield buffer
    for handler, stream in swapped:
        handler.setStream(stream)
