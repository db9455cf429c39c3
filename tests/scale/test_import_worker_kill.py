"""An import on two real Celery worker processes (Redis), killed mid-import,
imports every row once and ends with exact counts.

kombu's Redis transport can lose a message when the worker is SIGKILLed
between taking it off the queue and recording it as unacknowledged (seen
once in three runs): the batches a stalled run has not applied are then sent
again (``sources.imports.resend``), and a batch delivered twice applies once.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile

from customers.models import Customer, Identity
from sources.imports import runner
from sources.imports.jobs import create_import_job, set_mapping
from sources.imports.resend import resend_stalled_batches
from sources.imports.runner import run_import
from sources.models import ImportJob
from tests.imports.conftest import csv_bytes
from tests.scale.workers import kill, start_worker
from tests.services import needs_redis

PEOPLE = 1200
STALLED = timedelta(seconds=5)  # no batch applied for this long: the rest are sent again

pytestmark = [
    pytest.mark.postgres_only,
    needs_redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _rows() -> list[list[str]]:
    rows = [["Email", "Phone Number", "First Name", "Surname", "City"]]
    for n in range(PEOPLE):
        rows.append([f"kunde{n}@example.de", "", "Jürgen", f"Schäfer{n}", "München"])
        if n % 100 == 0:  # the same person again, later in the file (another batch)
            rows.append([f"KUNDE{n}@example.de", "", "Jürgen", f"Schäfer{n}", "Köln"])
    rows.append(["kein-email", "", "Ohne", "Adresse", ""])  # rejected
    return rows


def test_an_import_whose_worker_is_killed_mid_import_imports_each_row_once(
    celery_on_redis, monkeypatch, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(runner, "BATCH_SIZE", 40)
    rows = _rows()
    job = create_import_job(file=ContentFile(csv_bytes(rows)), name="kunden.csv")
    set_mapping(job=job, overrides={})
    worker = start_worker(("imports",))
    try:
        job = run_import(job_id=job.pk, dry_run=False)
        assert job.status == ImportJob.Status.RUNNING
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.batches_done >= 3:
                break
            time.sleep(0.05)
        assert 3 <= job.batches_done < job.batches_total, "killed mid-import"
        kill(worker)  # its batches in flight are redelivered to the next worker
        worker = start_worker(("imports",))
        deadline = time.monotonic() + 300
        while job.is_active and time.monotonic() < deadline:
            time.sleep(0.2)
            job.refresh_from_db()
            # what beat does every minute: a batch kombu lost in the kill is sent again
            resend_stalled_batches(stalled_after=STALLED)
    finally:
        kill(worker)

    assert job.status == ImportJob.Status.DONE
    assert job.batches_done == job.batches_total == 31  # 1,213 rows in batches of 40
    assert (job.rows_done, job.rows_total) == (len(rows) - 1, len(rows) - 1)
    assert (job.rows_new, job.rows_invalid) == (PEOPLE, 1)
    assert job.rows_updated + job.rows_unchanged == 12
    assert Customer.objects.count() == PEOPLE
    assert Identity.objects.filter(type__name="email").count() == PEOPLE
    assert Customer.objects.filter(city="Köln").count() == 12
    assert list(job.issues.filter(severity="error").values_list("code", flat=True)) == [
        "no_identifier"
    ]
