"""The import service: create a job from a file, map its columns, preview, import.

Admin views, the REST API and ``manage.py import_customers`` all call these.
The work itself runs as the ``sources.tasks.run_import_job`` Celery task
(inline in the embedded default), queued after the job is committed.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from customers.models import IdentifierType
from sources.imports.mapping import MappingError, build_mapping, default_mapping, mapping_to_json
from sources.imports.reading import ImportFileError, detect_format, open_table
from sources.models import ImportJob, Source
from sources.services.keys import create_source

logger = logging.getLogger(__name__)
UPLOAD_DIR = "imports"  # ImportJob.file's upload_to starts here
ORPHAN_AGE = timedelta(hours=1)


class ImportStateError(DomainError):
    kind = "conflict"


def file_source(*, name: str) -> Source:
    """The source named ``name``, created as a file source when it does not exist."""
    source = Source.objects.filter(name=name).first()
    if source is None:
        source, _key = create_source(name=name[:120], kind=Source.Kind.FILE)
    return source


def create_import_job(
    *,
    file: File,
    name: str,
    kind: str = ImportJob.Kind.CUSTOMERS,
    source: Source | None = None,
    user=None,
    limit_size: bool = True,
) -> ImportJob:
    """Store the file, read its header row and map its columns.

    Raises ImportFileError (unreadable, or over ``TRIBUTARY_MAX_UPLOAD_MB``
    when ``limit_size``: uploads; the operator's command is not limited). On
    any failure the stored file is deleted and no job is left; a mapping
    given with the file is applied by ``map_once``.

    Without a source, the file source ``File: <file name>`` is used (created
    once), so re-importing the same file lands on the same source.
    """
    file_format = detect_format(name)
    limit = settings.TRIBUTARY_MAX_UPLOAD_MB * 2**20
    if limit_size and (file.size or 0) > limit:
        raise ImportFileError(
            "file_too_large",
            f"{Path(name).name} is larger than {settings.TRIBUTARY_MAX_UPLOAD_MB} MB",
        )
    job = ImportJob(original_name=Path(name).name[:255], format=file_format, kind=kind)
    try:
        with transaction.atomic():
            job.source = source or file_source(name=f"File: {Path(name).name}")
            job.created_by = user
            job.file.save(Path(name).name, file, save=False)
            table = open_table(job.file.path, file_format)
            job.headers = table.headers
            job.mapping = default_mapping(table.headers, kind=kind)
            job.save()
    except BaseException:
        if job.file:
            job.file.delete(save=False)
        raise
    return job


@transaction.atomic
def set_mapping(
    *, job: ImportJob, overrides: dict[str, str], event_name: str = "", date_order: str = ""
) -> ImportJob:
    """Apply the person's column choices on top of the recognised defaults,
    with every row's event name (event files) and the date order (DMY, MDY
    or "" to decide per column).

    Raises MappingError for an unknown column or target or a bad option.
    """
    _ensure_idle(job)
    if date_order not in ("", *ImportJob.DateOrder.values):
        raise MappingError("bad_option", f"date order {date_order!r}: use DMY or MDY")
    mapping = build_mapping(
        job.headers,
        kind=job.kind,
        overrides=overrides,
        identifier_types=set(IdentifierType.objects.values_list("name", flat=True)),
        event_name=event_name.strip(),
    )
    job.mapping = mapping_to_json(mapping)
    job.event_name = event_name.strip()[:200]
    job.date_order = date_order
    job.save(update_fields=["mapping", "event_name", "date_order"])
    return job


def fail_job(*, job: ImportJob, reason: str) -> None:
    """End a job as failed with its reason; its file is deleted (it cannot be
    used again: a new upload starts over)."""
    if job.file:
        job.file.delete(save=False)
    job.status = ImportJob.Status.FAILED
    job.error = reason
    job.finished_at = timezone.now()
    job.save(update_fields=["file", "status", "error", "finished_at"])


def purge_orphan_uploads(*, older_than: timedelta = ORPHAN_AGE) -> int:
    """Delete uploaded files no import job refers to, older than ``older_than``
    (a crash between storing a file and saving its job, say). Returns how
    many were deleted. Run hourly by beat, or ``manage.py purge_uploads``."""
    storage = ImportJob._meta.get_field("file").storage
    if not storage.exists(UPLOAD_DIR):
        return 0
    cutoff = timezone.now() - older_than
    removed = 0
    pending = [UPLOAD_DIR]
    while pending:
        directory = pending.pop()
        folders, names = storage.listdir(directory)
        pending += [f"{directory}/{folder}" for folder in folders]
        paths = [f"{directory}/{name}" for name in names]
        for start in range(0, len(paths), 500):
            chunk = paths[start : start + 500]
            kept = set(ImportJob.objects.filter(file__in=chunk).values_list("file", flat=True))
            for path in chunk:
                if path not in kept and storage.get_modified_time(path) < cutoff:
                    storage.delete(path)
                    removed += 1
    if removed:
        logger.info("deleted %d upload(s) without an import job", removed)
    return removed


def map_once(
    *, job: ImportJob, overrides: dict[str, str], event_name: str = "", date_order: str = ""
) -> ImportJob:
    """``set_mapping`` for a mapping given once with the file (the command, the
    REST API): a bad one ends the job ``failed`` with the reason, then raises."""
    try:
        return set_mapping(
            job=job, overrides=overrides, event_name=event_name, date_order=date_order
        )
    except MappingError as exc:
        fail_job(job=job, reason=str(exc))
        raise


@transaction.atomic
def start_preview(*, job: ImportJob) -> ImportJob:
    """Queue a dry run: counts and the row report, nothing written."""
    return _queue(job, dry_run=True, status=ImportJob.Status.PREVIEWING)


@transaction.atomic
def confirm_import(*, job: ImportJob) -> ImportJob:
    """Queue the real import."""
    return _queue(job, dry_run=False, status=ImportJob.Status.QUEUED)


def _queue(job: ImportJob, *, dry_run: bool, status: str) -> ImportJob:
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    _ensure_idle(job)
    if not job.file:
        raise ImportStateError(
            "file_deleted", f"{job} failed and its file was deleted; upload the file again"
        )
    job.status = status
    job.save(update_fields=["status"])

    def enqueue() -> None:
        # the tasks wrap this module's services: a module-level import would be a cycle
        from sources.tasks import run_import_job

        run_import_job.delay(job.pk, dry_run)

    transaction.on_commit(enqueue)
    return job


def _ensure_idle(job: ImportJob) -> None:
    if job.is_active:
        raise ImportStateError("job_busy", f"{job} is {job.get_status_display().lower()}")
