import csv
import io
import json
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from sources.imports.jobs import create_import_job, set_mapping
from sources.imports.runner import run_import


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def csv_bytes(rows: list[list[object]], delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def json_bytes(objects: list[object]) -> bytes:
    return json.dumps(objects).encode("utf-8")


FILES = Path(__file__).parent / "files"


def vendor_file(name: str) -> bytes:
    """A vendor export in ``tests/imports/files`` (exact header rows, BOM/CRLF as exported)."""
    return (FILES / name).read_bytes()


@pytest.fixture
def import_file(db):
    """Create a job from (name, bytes), map it, run it; returns the finished job."""

    def run(
        name,
        content,
        *,
        kind="customers",
        source=None,
        mapping=None,
        dry_run=False,
        event_name="",
        date_order="",
    ):
        job = create_import_job(file=ContentFile(content), name=name, kind=kind, source=source)
        set_mapping(job=job, overrides=mapping or {}, event_name=event_name, date_order=date_order)
        return run_import(job_id=job.pk, dry_run=dry_run)

    return run
