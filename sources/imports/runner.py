"""Run an import job: plan it, then hand its batches to Celery tasks.

The file is read once first (``plan.plan_import``: the mapping checked, the
records counted, each column's type and date order learnt); then rows are
read one at a time and every ``BATCH_SIZE`` records are sent as one
``sources.tasks.import_batch`` task on the ``imports`` queue (a group, sent
as it is read so memory does not grow with the file). Workers run the
batches in parallel, each in its own transaction with its row report and
its counts (``batches``); the last one to finish ends the job. Without a
broker the same tasks run inline, one after the other, before
``run_import`` returns. A worker killed mid-batch loses nothing: the broker
redelivers the batch (``acks_late``) and a batch is applied once.

A dry run (the preview) runs in this process instead, in one transaction
that is rolled back at the end; its row report is spooled to a temporary
file while it runs and stored once the rollback is done.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import shutil
import tempfile
import time
from collections.abc import Collection, Iterable, Iterator
from dataclasses import astuple
from itertools import islice
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from customers.models import IdentifierType
from sources.imports.batches import (
    Tally,
    encode_plan,
    encode_rows,
    finish_if_complete,
    process_rows,
    store_issues,
)
from sources.imports.jobs import fail_job
from sources.imports.mapping import MappingError
from sources.imports.plan import ImportPlan, plan_import
from sources.imports.reading import ImportFileError, Row, Table, open_table
from sources.imports.rows import RowIssue
from sources.models import ImportJob

BATCH_SIZE = 500
logger = logging.getLogger(__name__)


class _RollBack(Exception):
    pass


def run_import(*, job_id: int, dry_run: bool) -> ImportJob:
    """Preview or start one job; returns it as it stands then: done when the
    batches ran inline, still running when workers have them (``wait_for_job``).
    Call it outside a transaction when a broker is configured: workers must
    see the job."""
    job = ImportJob.objects.select_related("source").get(pk=job_id)
    _start(job, dry_run=dry_run)
    try:
        with local_file(job) as path:
            table, plan = planned(job, path)
            job.rows_total = plan.records
            job.batches_total = 0 if dry_run else math.ceil(plan.records / BATCH_SIZE)
            job.column_types = plan.notes()
            job.save(update_fields=["rows_total", "batches_total", "column_types"])
            if dry_run:
                _preview(job, plan.read(table.rows()), plan)
            else:
                _import(job, plan.read(table.rows()), plan)
    except (ImportFileError, MappingError) as exc:
        fail_job(job=job, reason=str(exc))
        return job
    except Exception:
        # not bad input but a bug or an outage: logged, and the job still ends
        logger.exception("import job %s failed", job.pk)
        fail_job(job=job, reason="the import stopped on an unexpected error (logged)")
        return job
    job.refresh_from_db()
    return job


def planned(job: ImportJob, path: Path) -> tuple[Table, ImportPlan]:
    """The job's file opened, and its plan (the same each time the file is read)."""
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
    return table, plan


def wait_for_job(*, job_id: int, every: float = 0.5) -> ImportJob:
    """Poll the job until its batches have all been applied (or it failed).

    A batch message the broker loses (Redis, a worker SIGKILLed at the wrong
    instant) is sent again by ``resend.resend_stalled_batches`` (beat)."""
    while True:
        job = ImportJob.objects.select_related("source").get(pk=job_id)
        if not job.is_active:
            return job
        time.sleep(every)


def _start(job: ImportJob, *, dry_run: bool) -> None:
    job.issues.all().delete()
    job.batches.all().delete()
    Tally().save_to(job)
    job.rows_total = job.batches_total = job.batches_done = 0
    job.dry_run = dry_run
    job.error = ""
    job.status = ImportJob.Status.PREVIEWING if dry_run else ImportJob.Status.RUNNING
    job.started_at = timezone.now()
    job.finished_at = job.batches_resent_at = None
    job.save()


def _import(job: ImportJob, rows: Iterator[Row], plan: ImportPlan) -> None:
    """Send the batches; the last one applied ends the job (or this, when
    the file has no records)."""
    send_batches(job, rows, plan)
    finish_if_complete(job_id=job.pk, run=job.started_at.isoformat())


def send_batches(
    job: ImportJob, rows: Iterator[Row], plan: ImportPlan, *, only: Collection[int] | None = None
) -> None:
    """Queue the run's batches (``only`` these numbers, when given)."""
    # the tasks wrap this module's run_import: a module-level import would be a cycle
    from sources.tasks import import_batch

    run = job.started_at.isoformat()
    encoded = encode_plan(plan)
    for number, batch in enumerate(_batches(rows)):
        if only is not None and number not in only:
            continue
        import_batch.apply_async(
            kwargs={
                "job_id": job.pk,
                "run": run,
                "number": number,
                "plan": encoded,
                "rows": encode_rows(batch),
            },
            # not Celery's repr of every cell: cheaper, and keeps personal data out of the
            # message's headers and the workers' logs
            kwargsrepr=f"{{'job_id': {job.pk}, 'number': {number}, 'rows': {len(batch)}}}",
        )


def _preview(job: ImportJob, rows: Iterator[Row], plan: ImportPlan) -> None:
    """Every batch in one transaction, rolled back; the counts and the row report kept."""
    tally = Tally()
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spool:
        writer = csv.writer(spool)
        with contextlib.suppress(_RollBack), transaction.atomic():
            for batch in _batches(rows):
                for issue in process_rows(job, batch, plan, tally):
                    writer.writerow(astuple(issue))
            raise _RollBack
        spool.seek(0)
        spooled = (RowIssue(int(r[0]), *r[1:]) for r in csv.reader(spool))
        for chunk in _batches(spooled):
            store_issues(job, chunk)
    job.status = ImportJob.Status.PREVIEWED
    job.finished_at = timezone.now()
    job.save(update_fields=[*tally.save_to(job), "status", "finished_at"])


def _batches(items: Iterable) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, BATCH_SIZE)):
        yield batch


@contextlib.contextmanager
def local_file(job: ImportJob) -> Iterator[Path]:
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
