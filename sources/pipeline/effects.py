"""Stage 7, effects: consent segments, then live segment membership, once per batch.

The outbox entries (profile created/updated, events) were written with the
rows they describe, in the same transaction; this stage re-evaluates what
reads them.
"""

from __future__ import annotations

from segments.services import profile_changes, reevaluate_customers
from sources.pipeline.state import Batch


def effects_of_batch(batch: Batch) -> None:
    batch.consent.publish()  # consent segments, now that every profile is written
    # every touched profile against the segments whose rules read anything the batch changed
    touched: set[int] = set()
    changes: set[str] = set()
    for state in batch.live:
        if state.customer is None:
            continue
        touched.add(state.customer.pk)
        touched.update(state.merged)
        changes.update(
            profile_changes(
                fields=state.changed,
                event=state.message.event or None,
                identities=state.attached,
                source_id=state.message.source_id,
                merged=bool(state.merged),
            )
        )
    reevaluate_customers(customer_ids=touched, changes=changes)
