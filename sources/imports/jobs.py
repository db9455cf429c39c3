"""The import service: create a job from a file, map its columns, preview, import.

Admin views, the REST API and ``manage.py import_customers`` all call these.
The work itself runs as the ``sources.tasks.run_import_job`` Celery task
(inline in the embedded default), queued after the job is committed.
"""

from __future__ import annotations

from pathlib import Path

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from customers.models import IdentifierType
from sources.imports.mapping import MappingError, build_mapping, default_mapping, mapping_to_json
from sources.imports.reading import ImportFileError, detect_format, open_table
from sources.models import ImportJob, Source
from sources.services.keys import create_source


class ImportStateError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


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
) -> ImportJob:
    """Store the file and read its header row; raises ImportFileError if unreadable.

    Without a source, the file source ``File: <file name>`` is used (created
    once), so re-importing the same file lands on the same source.
    """
    file_format = detect_format(name)
    with transaction.atomic():
        job = ImportJob(
            original_name=Path(name).name[:255],
            format=file_format,
            kind=kind,
            source=source or file_source(name=f"File: {Path(name).name}"),
            created_by=user,
        )
        job.file.save(Path(name).name, file, save=False)
        try:
            table = open_table(job.file.path, file_format)
        except ImportFileError:
            job.file.delete(save=False)
            raise
        job.headers = table.headers
        job.mapping = default_mapping(table.headers, kind=kind)
        job.save()
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
        job.status = ImportJob.Status.FAILED
        job.error = str(exc)
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
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
    job.status = status
    job.save(update_fields=["status"])

    def enqueue() -> None:
        from sources.tasks import run_import_job

        run_import_job.delay(job.pk, dry_run)

    transaction.on_commit(enqueue)
    return job


def _ensure_idle(job: ImportJob) -> None:
    if job.is_active:
        raise ImportStateError("job_busy", f"{job} is {job.get_status_display().lower()}")
