"""Celery tasks of the sources app: thin wrappers around services.

Routed by name (``CELERY_TASK_ROUTES``): tasks with ``import`` in their name
go to the ``imports`` queue, so a big file never delays live events.
"""

from __future__ import annotations

from celery import shared_task

from sources.imports.runner import run_import


@shared_task(name="sources.tasks.run_import_job")
def run_import_job(job_id: int, dry_run: bool = False) -> str:
    """Preview (dry run) or import one job; safe to run twice (rows are idempotent)."""
    return run_import(job_id=job_id, dry_run=dry_run).status
