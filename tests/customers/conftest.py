from datetime import UTC, datetime, timedelta

import pytest

from customers.services.identity import resolve_identity

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def resolve(db):
    """resolve_identity with a clock that ticks a minute per call."""
    calls = {"n": 0}

    def run(*pairs, source_id=None, message_id=""):
        calls["n"] += 1
        return resolve_identity(
            identifiers=list(pairs),
            source_id=source_id,
            seen_at=T0 + timedelta(minutes=calls["n"]),
            message_id=message_id,
        )

    return run
