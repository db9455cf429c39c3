"""Celery tasks of the sources app: thin wrappers around services, ids in.

Routed by name (``CELERY_TASK_ROUTES``): tasks with ``import`` in their name
go to the ``imports`` queue, so a big file never delays live events; the
tracking intake goes to ``ingest``.
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from sources.imports.batches import import_batch as apply_import_batch
from sources.imports.jobs import purge_orphan_uploads as purge_uploads
from sources.imports.resend import resend_stalled_batches
from sources.imports.runner import run_import
from sources.services.processing import process_batch
from sources.services.retention import purge_intake

MAX_RETRIES = 3


@shared_task(name="sources.tasks.run_import_job")
def run_import_job(job_id: int, dry_run: bool = False) -> str:
    """Preview (dry run) one job, or plan it and queue its batches; safe to
    run twice (a new run of the job; rows already imported are no-ops)."""
    return run_import(job_id=job_id, dry_run=dry_run).status


@shared_task(name="sources.tasks.import_batch")
def import_batch(*, job_id: int, run: str, number: int, plan: dict, rows: list) -> dict | None:
    """Apply one batch of an import run; safe to run twice (applied once)."""
    return apply_import_batch(job_id=job_id, run=run, number=number, plan=plan, rows=rows)


@shared_task(name="sources.tasks.resend_import_batches")
def resend_import_batches() -> dict[str, list[int]]:
    """Send again the batches of import runs stalled past
    ``TRIBUTARY_IMPORT_STALL_SECONDS`` (a broker lost them)."""
    stalled_after = timedelta(seconds=settings.TRIBUTARY_IMPORT_STALL_SECONDS)
    resent = resend_stalled_batches(stalled_after=stalled_after)
    return {str(job_id): numbers for job_id, numbers in resent.items()}


@shared_task(bind=True, max_retries=MAX_RETRIES, name="sources.tasks.process_intake")
def process_intake(self, intake_ids: list[int]) -> dict:
    """Run stored tracking calls (and others still waiting, see
    ``process_batch``) through the pipeline; retry the ones that fail."""
    outcome = process_batch(intake_ids=intake_ids, fill_to=settings.TRIBUTARY_INTAKE_BATCH_SIZE)
    if outcome.failed and self.request.retries < MAX_RETRIES:
        raise self.retry(args=[outcome.failed], countdown=5 * 2**self.request.retries)
    return {"processed": len(outcome.processed), "failed": len(outcome.failed)}


@shared_task(name="sources.tasks.purge_old_intake")
def purge_old_intake() -> dict:
    """Delete processed and rejected calls past ``TRIBUTARY_INTAKE_RETENTION_DAYS``."""
    purged = purge_intake(older_than_days=settings.TRIBUTARY_INTAKE_RETENTION_DAYS)
    return {"intake": purged.intake, "rejected": purged.rejected}


@shared_task(name="sources.tasks.purge_orphan_uploads")
def purge_orphan_uploads() -> int:
    """Delete uploaded files without an import job, older than an hour."""
    return purge_uploads()
