"""Stage 6, persist: write what apply gathered, a few statements per batch
(COPY on PostgreSQL where it pays, see ``core.db.copy``)."""

from __future__ import annotations

from core.db.copy import insert_rows
from customers.models import DataQualityIssue
from customers.services.bulk import record_events
from sources.pipeline.state import Batch


def persist_batch(batch: Batch) -> None:
    batch.consent.flush()
    record_events(events=batch.events)
    insert_rows(DataQualityIssue, batch.quality)
    batch.profiles.save()
