"""Stage 2, lock: every identifier of the batch, in one order (no deadlocks)."""

from __future__ import annotations

from customers.services.identity import lock_identifiers, try_lock_identifiers
from sources.pipeline.state import Batch, MessageState, components


def lock_batch(batch: Batch, *, wait: bool) -> None:
    """Lock every identifier (and alias previousId) of the batch at once.

    Without ``wait``, the messages of a person whose identifiers another
    transaction holds — with every message sharing an identifier with them —
    are marked postponed instead of waited for.
    """
    wanted = [pair for state in batch.states for pair in state.locked]
    if wait:
        lock_identifiers(wanted)
        return
    busy = try_lock_identifiers(wanted)
    if not busy:
        return
    for members in components(batch.states, _locked):
        if any(pair in busy for state in members for pair in state.locked):
            for state in members:
                state.postponed = True


def _locked(state: MessageState) -> list[tuple[str, str]]:
    return state.locked
