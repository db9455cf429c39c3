"""Processing stored calls through the pipeline, with failure bookkeeping.

A batch is applied in one transaction; if it fails, each call is retried
alone (a batch of one) so one bad call cannot hold back the others, and the
failing call is marked ``failed`` with its error and attempt count. Failed
calls are retried by the task and can be replayed from the admin.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.permissions import require_permissions
from core.audit import SYSTEM, acting_as, source_label
from core.db.bulk import commit_asynchronously
from sources.models import IntakeMessage
from sources.pipeline import apply_messages
from sources.services.parsing import normalize_call

logger = logging.getLogger(__name__)
_OPEN = (IntakeMessage.Status.PENDING, IntakeMessage.Status.FAILED)


@dataclass
class BatchOutcome:
    processed: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    # left pending: another transaction held their people's identifiers
    postponed: list[int] = field(default_factory=list)


def process_batch(*, intake_ids: Sequence[int], fill_to: int = 0) -> BatchOutcome:
    """Apply the stored calls that are not processed yet; safe to run twice.

    With ``fill_to``, other pending calls of the same source (oldest first,
    none another worker holds) join the batch until it has that many: a
    worker behind on a queue of small requests then pays the per-batch costs
    once per ``fill_to`` calls. Such a batch does not wait for people another
    worker is busy with: their calls are applied in a second transaction
    after the first commits.
    """
    claimed: list[int] = []
    try:
        outcome = _apply(intake_ids, fill_to=fill_to, wait_for_locks=not fill_to, claimed=claimed)
        if outcome.postponed:
            # their people were busy in another worker's batch, which is over now
            outcome.processed += _apply(outcome.postponed).processed
        return outcome
    except Exception as error:
        # every call the batch held, so none is left behind unmarked
        retry = list(dict.fromkeys([*intake_ids, *claimed]))
        if len(retry) > 1:
            outcome = BatchOutcome()
            for intake_id in retry:
                one = process_batch(intake_ids=[intake_id])
                outcome.processed += one.processed
                outcome.failed += one.failed
            return outcome
        logger.exception("intake message %s failed", retry[0])
        IntakeMessage.objects.filter(pk=retry[0], status__in=_OPEN).update(
            status=IntakeMessage.Status.FAILED,
            attempts=F("attempts") + 1,
            error=f"{type(error).__name__}: {error}"[:2000],
        )
        return BatchOutcome(failed=retry)


@transaction.atomic
def _apply(
    intake_ids: Sequence[int],
    *,
    fill_to: int = 0,
    wait_for_locks: bool = True,
    claimed: list[int] | None = None,
) -> BatchOutcome:
    """One transaction; ``claimed`` gets the ids of the calls it took, even if it fails."""
    commit_asynchronously()  # the intake rows are durable; a lost commit is redone
    claim = (
        IntakeMessage.objects.select_for_update(skip_locked=True)
        .order_by("pk")
        .values_list("pk", "source_id", "payload", "received_at")
    )
    rows = list(claim.filter(pk__in=intake_ids, status__in=_OPEN))
    sources = {source_id for _, source_id, _, _ in rows}
    if len(rows) < fill_to and len(sources) == 1:
        # same source only, so the audit trail still names it as the actor
        waiting = claim.filter(status=IntakeMessage.Status.PENDING, source_id=min(sources))
        waiting = waiting.exclude(pk__in=intake_ids)[: fill_to - len(rows)]
        rows = sorted([*rows, *waiting])
    if not rows:
        return BatchOutcome()
    if claimed is not None:
        claimed.extend(row[0] for row in rows)
    messages = [
        normalize_call(payload, source_id=source_id, received_at=received_at)
        for _, source_id, payload, received_at in rows
    ]
    actor = source_label(min(sources)) if len(sources) == 1 else SYSTEM
    with acting_as(actor):
        results = apply_messages(messages, wait_for_locks=wait_for_locks)
    postponed = [row[0] for row, result in zip(rows, results, strict=True) if result.postponed]
    ids = [row[0] for row, result in zip(rows, results, strict=True) if not result.postponed]
    IntakeMessage.objects.filter(pk__in=ids).update(
        status=IntakeMessage.Status.PROCESSED,
        attempts=F("attempts") + 1,
        error="",
        processed_at=timezone.now(),
    )
    return BatchOutcome(processed=ids, postponed=postponed)


def replay_messages(*, intake_ids: Sequence[int], actor=None) -> BatchOutcome:
    """Process failed calls again now (the admin's replay action)."""
    require_permissions(actor, "sources.change_intakemessage", what="replay intake messages")
    return process_batch(intake_ids=list(intake_ids))
