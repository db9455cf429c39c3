"""Stage 3, screen: leave out calls stored already and calls naming an erased person."""

from __future__ import annotations

from consent.services.suppression import suppressed_indexes
from customers.services.bulk import stored_message_ids
from sources.pipeline.state import Batch


def screen_batch(batch: Batch) -> None:
    """Mark duplicates (after locking: a transaction that held these people
    may have stored the same call) and suppressed messages (counted per source)."""
    by_source: dict[int, set[str]] = {}
    for state in batch.live:
        by_source.setdefault(state.message.source_id, set()).add(state.message.message_id)
    done = {
        (source_id, message_id)
        for source_id, ids in by_source.items()
        for message_id in stored_message_ids(source_id=source_id, message_ids=ids)
    }
    for state in batch.live:
        if (state.message.source_id, state.message.message_id) in done:
            state.duplicate = True
    live = batch.live
    dropped = suppressed_indexes(
        identifier_sets={state.index: state.identifiers for state in live},
        source_ids={state.index: state.message.source_id for state in live},
    )
    for state in live:
        state.suppressed = state.index in dropped
