"""Tracking calls through the real pipeline, at a given time (for tests)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sources.contracts import NormalizedMessage
from sources.pipeline import ProcessResult, process_message


def call(
    source,
    *,
    at: datetime,
    type: str = "identify",
    traits: dict | None = None,
    event: str = "",
    message_id: str | None = None,
    **ids,
) -> ProcessResult:
    """One call of ``source`` (``ids``: user_id, anonymous_id, previous_id…)."""
    return process_message(
        NormalizedMessage(
            source_id=source.pk,
            message_id=message_id or str(uuid.uuid4()),
            type=type,
            timestamp=at,
            received_at=at,
            event=event,
            traits=traits or {},
            **ids,
        )
    )
