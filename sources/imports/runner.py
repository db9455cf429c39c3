"""Run an import job: stream the file, build messages, send them through the pipeline.

The file is read once first (``plan.plan_import``: the mapping checked, the
records counted, each column's type and date order learnt); then rows are
read one at a time and processed in batches of ``BATCH_SIZE``
through the batched pipeline (``sources.pipeline.apply_messages``), each
batch in its own transaction with its row report (the job's progress
counters are saved after each), so memory does not grow with the file and a
crash loses at most the batches in flight (which a re-run re-imports: row
message ids make that a no-op for rows already done). On PostgreSQL,
``TRIBUTARY_IMPORT_WORKERS`` batches run at once: in threads in a worker
task, in processes for the import command.

A dry run (the preview) runs the very same code in one transaction that is
rolled back at the end; its row report is spooled to a temporary file while
it runs and stored once the rollback is done.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import csv
import logging
import multiprocessing
import queue
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, fields
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, connections, reset_queries, transaction
from django.utils import timezone

from core.db.bulk import commit_asynchronously
from core.db.copy import insert_rows
from customers.models import IdentifierType
from customers.services.bulk import stored_message_ids
from customers.services.identity import identifier_types
from sources.imports.jobs import fail_job
from sources.imports.joins import WEAK_JOIN, weak_join
from sources.imports.mapping import MappingError
from sources.imports.plan import ImportPlan, plan_import
from sources.imports.reading import ImportFileError, Row, open_table
from sources.imports.rows import RowIssue, RowOutcome, build_message, expected_issues
from sources.models import ImportIssue, ImportJob
from sources.pipeline import ProcessResult, apply_messages, process_message

BATCH_SIZE = 500
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


class _RollBack(Exception):
    pass


def run_import(*, job_id: int, dry_run: bool, processes: bool = False) -> ImportJob:
    """Preview or import one job. With ``processes`` (the import command,
    never a worker task) concurrent batches run in forked processes rather
    than threads, so that their Python runs on every core."""
    job = ImportJob.objects.select_related("source").get(pk=job_id)
    _start(job, dry_run=dry_run)
    try:
        with _local_file(job) as path:
            table = open_table(path, job.format)
            plan = plan_import(
                headers=table.headers,
                kind=job.kind,
                overrides=job.mapping,
                identifier_types=set(IdentifierType.objects.values_list("name", flat=True)),
                rows=table.rows,
                event_name=job.event_name,
                date_order=job.date_order,
            )
            job.rows_total = plan.records
            job.column_types = plan.notes()
            job.save(update_fields=["rows_total", "column_types"])
            tally = Tally()
            if dry_run:
                _preview(job, plan.read(table.rows()), plan, tally)
            else:
                _import(job, plan.read(table.rows()), plan, tally, processes=processes)
    except (ImportFileError, MappingError) as exc:
        fail_job(job=job, reason=str(exc))
        return job
    except Exception:
        # not bad input but a bug or an outage: logged, and the job still ends
        logger.exception("import job %s failed", job.pk)
        fail_job(job=job, reason="the import stopped on an unexpected error (logged)")
        return job
    job.status = ImportJob.Status.PREVIEWED if dry_run else ImportJob.Status.DONE
    job.finished_at = timezone.now()
    job.save(update_fields=[*tally.save_to(job), "status", "finished_at"])
    return job


def _start(job: ImportJob, *, dry_run: bool) -> None:
    job.issues.all().delete()
    Tally().save_to(job)
    job.rows_total = 0
    job.dry_run = dry_run
    job.error = ""
    job.status = ImportJob.Status.PREVIEWING if dry_run else ImportJob.Status.RUNNING
    job.started_at = timezone.now()
    job.finished_at = None
    job.save()


def _import(
    job: ImportJob,
    rows: Iterator[Row],
    plan: ImportPlan,
    tally: Tally,
    *,
    processes: bool = False,
):
    at_once = settings.TRIBUTARY_IMPORT_WORKERS
    if at_once > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block:
        if processes:
            _import_in_processes(job, rows, plan, tally, at_once)
        else:
            _import_concurrently(job, rows, plan, tally, at_once)
        return
    for batch in _batches(rows):
        tally.add(_import_batch(job, batch, plan))
        job.save(update_fields=tally.save_to(job))


def _import_batch(job: ImportJob, batch: list[Row], plan: ImportPlan) -> Tally:
    """One batch and its row report, in one transaction; returns what it did."""
    done = Tally()
    with transaction.atomic():
        # the file is kept and re-importing a row is a no-op; the job's
        # final (synchronous) save makes every batch before it durable
        commit_asynchronously()
        _store_issues(job, _process_batch(job, batch, plan, done))
    return done


def _import_in_processes(
    job: ImportJob, rows: Iterator[Row], plan: ImportPlan, tally: Tally, count: int
) -> None:
    """Batches in ``count`` forked processes, each with its own connection.

    Threads share one interpreter lock, and cleansing and resolution are
    Python; processes use every core. At most two batches per process are
    handed out ahead, so memory stays flat. Not for worker tasks (a Celery
    pool process should not fork its own pool).
    """
    connections.close_all()  # each child opens its own connection
    with multiprocessing.get_context("fork").Pool(count) as pool:
        pending: collections.deque = collections.deque()

        def finish_oldest() -> None:
            tally.add(pending.popleft().get())
            job.save(update_fields=tally.save_to(job))

        for batch in _batches(rows):
            pending.append(pool.apply_async(_import_batch, (job, batch, plan)))
            if len(pending) > 2 * count:
                finish_oldest()
        while pending:
            finish_oldest()
        pool.close()
        pool.join()


def _import_concurrently(
    job: ImportJob, rows: Iterator[Row], plan: ImportPlan, tally: Tally, threads: int
) -> None:
    """Batches in ``threads`` threads, each with its own database connection.

    A batch spends about half its time waiting for PostgreSQL; another
    thread's Python runs meanwhile. Rows of one person in two batches are
    serialised by the pipeline's identifier locks, as for any two writers.
    At most ``threads`` batches wait in the queue, so memory stays flat.
    Only outside a transaction: threads cannot see a caller's uncommitted rows.
    """
    work: queue.Queue[list[Row] | None] = queue.Queue(maxsize=threads)
    results: queue.Queue[Tally | BaseException] = queue.Queue()

    def serve() -> None:
        try:
            while (batch := work.get()) is not None:
                try:
                    results.put(_import_batch(job, batch, plan))
                except BaseException as error:  # handed to the reading thread
                    results.put(error)
        finally:
            connection.close()

    def collect() -> None:
        """Count the batches finished so far (the job shows progress)."""
        while True:
            try:
                result = results.get_nowait()
            except queue.Empty:
                return
            if isinstance(result, BaseException):
                raise result
            tally.add(result)
            job.save(update_fields=tally.save_to(job))

    # each thread runs in a copy of this context (the audit actor is a ContextVar)
    workers = [
        threading.Thread(target=contextvars.copy_context().run, args=(serve,), daemon=True)
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    try:
        for batch in _batches(rows):
            work.put(batch)
            collect()
    finally:
        for _ in workers:
            work.put(None)
        for worker in workers:
            worker.join()
    collect()


def _preview(job: ImportJob, rows: Iterator[Row], plan: ImportPlan, tally: Tally):
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spool:
        writer = csv.writer(spool)
        with contextlib.suppress(_RollBack), transaction.atomic():
            for batch in _batches(rows):
                for issue in _process_batch(job, batch, plan, tally):
                    writer.writerow(astuple(issue))
            raise _RollBack
        spool.seek(0)
        spooled = (RowIssue(int(r[0]), *r[1:]) for r in csv.reader(spool))
        for chunk in _batches(spooled):
            _store_issues(job, chunk)


def _process_batch(
    job: ImportJob, batch: list[Row], plan: ImportPlan, tally: Tally
) -> list[RowIssue]:
    reset_queries()  # with DEBUG on, Django would keep every batch's SQL for the whole file
    outcomes = [
        build_message(row, plan, kind=job.kind, source_id=job.source_id, observed_at=job.created_at)
        for row in batch
    ]
    ids = [o.message.message_id for o in outcomes if o.message is not None]
    done = stored_message_ids(source_id=job.source_id, message_ids=ids)
    todo: list[RowOutcome] = []
    known_types = None
    for outcome in outcomes:
        message = outcome.message
        if message is not None and message.message_id not in done:
            done.add(message.message_id)
            todo.append(outcome)
    results = dict(zip((id(o) for o in todo), _apply(todo), strict=True))
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
    types = identifier_types()
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
    _note(outcome, result, identifier_types())
    return result


def _note(outcome: RowOutcome, result: ProcessResult, types: dict) -> None:
    outcome.add_pipeline_issues(result.issues)
    if result.customer is None:
        outcome.reject("no_identifier", "no usable identifier (email, phone or an id column)")
    elif notice := weak_join(outcome, result, types):
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


def _store_issues(job: ImportJob, issues: Iterable[RowIssue]) -> None:
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


def _batches(items: Iterable, size: int = BATCH_SIZE) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


@contextlib.contextmanager
def _local_file(job: ImportJob) -> Iterator[Path]:
    """A local path to the job's file (copied from remote storage when needed)."""
    try:
        local = Path(job.file.path)
    except NotImplementedError:
        local = None
    if local is not None:
        yield local
        return
    suffix = Path(job.original_name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix) as copy, job.file.open("rb") as stored:
        shutil.copyfileobj(stored, copy)
        copy.flush()
        yield Path(copy.name)
