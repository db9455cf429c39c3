"""Seed for the API contract run (fed to `manage.py shell`): the profile the
OpenAPI examples name (email:ann@example.com, user_id:42, external_id:crm-9)."""

import uuid
from datetime import UTC, datetime, timedelta

from sources.contracts import NormalizedMessage
from sources.pipeline import process_message
from sources.services.keys import create_source

source, _key = create_source(name="Contract test shop", kind="shop")
start = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
calls = [
    ("identify", "", {"email": "ann@example.com", "firstName": "Ann", "plan": "pro"}),
    ("track", "Order Completed", {}),
    ("page", "Home", {}),
]
for step, (kind, event, traits) in enumerate(calls):
    when = start + timedelta(hours=step)
    process_message(
        NormalizedMessage(
            source_id=source.pk,
            message_id=str(uuid.uuid4()),
            type=kind,
            timestamp=when,
            received_at=when,
            user_id="42",
            event=event,
            traits=traits,
            external_ids=(("external_id", "crm-9"),),
        )
    )
