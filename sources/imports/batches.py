"""One batch of an import: its records through the pipeline, its row report, its counts.

An import's batches are Celery tasks (``sources.tasks.import_batch``, on the
``imports`` queue; inline without a broker). Each batch applies its rows,
stores its row report, adds its counts to the job row and marks itself
applied (``ImportBatch``) in ONE transaction, so a worker killed mid-batch
leaves nothing and the redelivered task starts over, and a batch delivered
again after its commit is skipped. The batch that brings the job's
``batches_done`` to ``batches_total`` ends the job. A batch carries its
run's ``started_at``: batches of an earlier run of the same job (still
queued when the job was started again) change nothing.

The records travel in the task message (``encode_rows``), not in the
database: the file is read once, by the task that plans the import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from functools import cache

from django.db import DatabaseError, IntegrityError, reset_queries, transaction
from django.db.models import F
from django.utils import timezone

from core.db.copy import insert_rows
from customers.models import IdentifierType
from customers.services.identity import identifier_types
from sources.imports.joins import WEAK_JOIN, weak_join
from sources.imports.mapping import Target
from sources.imports.orders import OrderRows
from sources.imports.plan import ImportPlan
from sources.imports.reading import Row
from sources.imports.rows import RowIssue, RowOutcome, build_message, expected_issues
from sources.models import ImportBatch, ImportIssue, ImportJob
from sources.pipeline import ProcessResult, apply_messages, process_message

logger = logging.getLogger(__name__)


@dataclass
class Tally:
    rows_done: int = 0
    rows_new: int = 0
    rows_updated: int = 0
    rows_merged: int = 0
    rows_unchanged: int = 0
    rows_invalid: int = 0
    rows_with_warnings: int = 0
    rows_joined_weakly: int = 0

    def add(self, other: Tally) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def save_to(self, job: ImportJob) -> list[str]:
        names = [f.name for f in fields(self)]
        for name in names:
            setattr(job, name, getattr(self, name))
        return names

    def increments(self) -> dict[str, F]:
        """The job's counters plus this tally, as an atomic UPDATE's values."""
        return {f.name: F(f.name) + getattr(self, f.name) for f in fields(self)}


def import_batch(*, job_id: int, run: str, number: int, plan: dict, rows: list) -> dict | None:
    """Apply batch ``number`` of the run started at ``run`` (the job's
    ``started_at``, ISO); ``plan`` and ``rows`` as encoded by ``encode_plan``
    and ``encode_rows``. Returns the batch's counts, or None when it changed
    nothing (applied before, or not of the job's current run).

    Opens its own transaction; an unexpected error fails the job (logged).
    """
    job = ImportJob.objects.select_related("source").filter(pk=job_id).first()
    if job is None or not _current(job, run):
        return None
    try:
        done = _apply_batch(job, run, number, decode_plan(plan), decode_rows(rows))
    except _StaleRun:
        return None
    except Exception:
        logger.exception("import job %s: batch %s failed", job_id, number)
        _fail_run(job_id, run, "the import stopped on an unexpected error (logged)")
        return None
    finish_if_complete(job_id=job_id, run=run)
    return None if done is None else {f.name: getattr(done, f.name) for f in fields(done)}


def finish_if_complete(*, job_id: int, run: str) -> bool:
    """End the run as done when every batch has been applied (whoever gets
    here last does it; the conditional UPDATE lets exactly one win)."""
    return bool(
        ImportJob.objects.filter(
            pk=job_id,
            status=ImportJob.Status.RUNNING,
            started_at=run,
            batches_done=F("batches_total"),
        ).update(status=ImportJob.Status.DONE, finished_at=timezone.now())
    )


class _StaleRun(Exception):
    """The job was started again (or ended) while this batch ran: roll it back."""


def _current(job: ImportJob, run: str) -> bool:
    return (
        job.status == ImportJob.Status.RUNNING
        and job.started_at is not None
        and job.started_at.isoformat() == run
    )


@transaction.atomic
def _apply_batch(
    job: ImportJob, run: str, number: int, plan: ImportPlan, batch: list[Row]
) -> Tally | None:
    """The batch, its report, its counts and its mark, in one transaction."""
    try:
        with transaction.atomic():
            # taken first: a second delivery of this batch waits here until the first commits
            ImportBatch.objects.create(job_id=job.pk, number=number)
    except IntegrityError:
        return None
    done = Tally()
    store_issues(job, process_rows(job, batch, plan, done))
    counted = ImportJob.objects.filter(
        pk=job.pk, status=ImportJob.Status.RUNNING, started_at=run
    ).update(batches_done=F("batches_done") + 1, **done.increments())
    if not counted:
        raise _StaleRun
    return done


def _fail_run(job_id: int, run: str, reason: str) -> None:
    ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.RUNNING, started_at=run).update(
        status=ImportJob.Status.FAILED, error=reason, finished_at=timezone.now()
    )


def process_rows(
    job: ImportJob, batch: list[Row], plan: ImportPlan, tally: Tally
) -> list[RowIssue]:
    """The batch's records through the pipeline; counts into ``tally``,
    returns the row report.

    A row imported before (its message id stored already: the pipeline's
    screen stage finds those, in the one look-up it makes per batch after
    locking) or repeating an earlier row of the batch changes nothing and
    counts as unchanged.
    """
    reset_queries()  # with DEBUG on, Django would keep every batch's SQL for the whole file
    outcomes = [
        build_message(row, plan, kind=job.kind, source_id=job.source_id, observed_at=job.created_at)
        for row in batch
    ]
    todo: list[RowOutcome] = []
    seen: set[str] = set()
    known_types = None
    for outcome in outcomes:
        message = outcome.message
        if message is not None and message.message_id not in seen:
            seen.add(message.message_id)
            todo.append(outcome)
    results = {
        id(outcome): result
        for outcome, result in zip(todo, _apply(todo), strict=True)
        if result is None or not result.duplicate
    }
    issues: list[RowIssue] = []
    for outcome in outcomes:
        tally.rows_done += 1
        if outcome.message is None and id(outcome) not in results:
            tally.rows_invalid += 1
        elif id(outcome) in results:
            _count(results[id(outcome)], kind=job.kind, tally=tally)
        else:
            known_types = known_types or identifier_types()
            outcome.add_pipeline_issues(expected_issues(outcome.message, known_types=known_types))
            tally.rows_unchanged += 1
        if outcome.message is not None and any(i.severity == "warning" for i in outcome.issues):
            tally.rows_with_warnings += 1
        if any(i.code == WEAK_JOIN for i in outcome.issues):
            tally.rows_joined_weakly += 1
        issues.extend(outcome.issues)
    return issues


def _apply(todo: list[RowOutcome]) -> list[ProcessResult | None]:
    """The rows' messages through the batched pipeline; if the batch fails, row by row
    so that only the failing row is rejected."""
    if not todo:
        return []
    try:
        with transaction.atomic():
            results = apply_messages([o.message for o in todo])
    except (DatabaseError, ValueError):
        return [_process(outcome) for outcome in todo]
    types = cache(identifier_types)  # read only if a row may have joined weakly
    for outcome, result in zip(todo, results, strict=True):
        _note(outcome, result, types)
    return results


def _process(outcome: RowOutcome) -> ProcessResult | None:
    """One row through the pipeline; a failure rejects that row only."""
    try:
        with transaction.atomic():
            result = process_message(outcome.message)
    except (DatabaseError, ValueError) as exc:
        outcome.reject("processing_failed", str(exc)[:500])
        return None
    _note(outcome, result, identifier_types)
    return result


def _note(
    outcome: RowOutcome, result: ProcessResult, types: Callable[[], dict[str, IdentifierType]]
) -> None:
    if result.duplicate:
        return  # imported before: reported as unchanged
    outcome.add_pipeline_issues(result.issues)
    if result.customer is None:
        outcome.reject("no_identifier", "no usable identifier (email, phone or an id column)")
    elif result.created_profile or not result.new_identities:
        return  # a new person, or nothing attached: no weak join
    elif notice := weak_join(outcome, result, types()):
        outcome.issues.append(notice)


def _count(result: ProcessResult | None, *, kind: str, tally: Tally) -> None:
    """What a processed row did; exactly one counter goes up."""
    if result is None or result.customer is None:
        tally.rows_invalid += 1
    elif result.merged_ids:
        tally.rows_merged += 1
    elif result.created_profile:
        tally.rows_new += 1
    elif result.changed or result.new_identities or (kind == "events" and result.event_created):
        tally.rows_updated += 1
    else:
        tally.rows_unchanged += 1


def store_issues(job: ImportJob, issues: Iterable[RowIssue]) -> None:
    insert_rows(
        ImportIssue,
        [
            ImportIssue(
                job_id=job.pk,
                row=i.row,
                column=i.column[:255],
                value=i.value,
                severity=i.severity,
                code=i.code[:64],
                reason=i.reason[:500],
            )
            for i in issues
        ],
    )


# --- the task message: JSON (dates, times and decimals in cells travel as
# kombu's typed values) -------------------------------------------------------


def encode_rows(batch: list[Row]) -> list:
    return [_encode_row(row) for row in batch]


def decode_rows(payload: list) -> list[Row]:
    return [_decode_row(item) for item in payload]


def _encode_row(row: Row) -> list:
    item = [row.number, row.values, list(row.extra_cells), row.problem]
    if isinstance(row, OrderRows):
        item += [[_encode_row(line) for line in row.lines], row.code]
    return item


def _decode_row(item: list) -> Row:
    number, values, extra, problem = item[:4]
    if len(item) == 4:
        return Row(number, values, tuple(extra), problem)
    lines, code = item[4:]
    return OrderRows(
        number, values, tuple(extra), problem, tuple(_decode_row(i) for i in lines), code
    )


def encode_plan(plan: ImportPlan) -> dict:
    return {
        "kind": plan.kind,
        "targets": {c: [t.kind, t.name, t.option] for c, t in plan.targets.items()},
        "event_name": plan.event_name,
        "types": plan.types,
        "date_orders": plan.date_orders,
        "records": plan.records,
    }


def decode_plan(payload: dict) -> ImportPlan:
    targets = {column: Target(*parts) for column, parts in payload["targets"].items()}
    return ImportPlan(**{**payload, "targets": targets})
