"""The one code path that turns normalized messages into profile changes.

Tracking API intake (``sources.services.processing``), file imports and REST
writes all end up in ``apply_messages`` (``process_message`` is a batch of
one). It runs the stages below in order over one ``MessageState`` per
message (``sources.pipeline.state``):

plan → lock → screen → resolve → apply → persist → effects

Identity is decided by ``customers.services.identity.plan`` alone; see
``sources.pipeline.resolving`` for how a batch carries its plans out.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from core.audit import acting_as, source_label
from customers.services.versions import bumped_once
from sources.contracts import NormalizedMessage
from sources.pipeline.applying import apply_batch
from sources.pipeline.effects import effects_of_batch
from sources.pipeline.locking import lock_batch
from sources.pipeline.persisting import persist_batch
from sources.pipeline.planning import collect_identifiers, message_identifiers, plan_batch
from sources.pipeline.resolving import resolve_batch
from sources.pipeline.screening import screen_batch
from sources.pipeline.state import ProcessResult

__all__ = [
    "ProcessResult",
    "apply_messages",
    "collect_identifiers",
    "message_identifiers",
    "process_message",
]


def process_message(message: NormalizedMessage) -> ProcessResult:
    """Apply one message: a batch of one, attributed to its source in the audit
    trail (unless an actor, e.g. an API key, is already set)."""
    with acting_as(source_label(message.source_id), override=False):
        return apply_messages([message])[0]


@transaction.atomic
def apply_messages(
    messages: Sequence[NormalizedMessage], *, wait_for_locks: bool = True
) -> list[ProcessResult]:
    """Apply messages in order; each (source, messageId) once.

    Opens the batch's one transaction (a savepoint inside a caller's): every
    stage runs in it, so a batch is stored whole or not at all. With
    ``wait_for_locks`` off, the messages of a person whose identifiers
    another transaction holds (with every message sharing an identifier with
    them) are not applied but returned ``postponed``, for the caller to apply
    once that transaction is over.
    """
    # each profile's version moves once per batch, however many kinds of change it gets
    with bumped_once() as bumps:
        batch = plan_batch(messages)  # identifiers, cleansed and screened
        lock_batch(batch, wait=wait_for_locks)  # all of them, in one order
        screen_batch(batch)  # stored already; naming an erased person
        resolve_batch(batch)  # a profile per message: created, attached, merged
        apply_batch(batch)  # traits, groups, consent, events, issues (in memory)
        persist_batch(batch)  # written in a few statements
        effects_of_batch(batch)  # consent segments, live segment membership
        bumps.difference_update(c.pk for c in batch.made)  # new rows: nothing cached of them
    return [state.result() for state in batch.states]
