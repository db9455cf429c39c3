"""Imports on PostgreSQL run batches at once, in threads (worker tasks) or
processes (the import command), each with its own connection.

Transactional: the threads must see the committed job and profiles, as they
do outside tests (inside a caller's transaction the import stays in one
thread, which every other import test exercises).
"""

import pytest
from django.core.files.base import ContentFile

from customers.models import Customer, DataQualityIssue, Identity
from sources.imports import runner
from sources.imports.jobs import create_import_job, set_mapping
from sources.imports.runner import run_import
from tests.imports.conftest import csv_bytes

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.mark.parametrize(("at_once", "processes"), [(1, False), (3, False), (3, True)])
def test_concurrent_import_gives_the_counts_rows_and_report_of_a_sequential_one(
    at_once, processes, settings, monkeypatch
):
    settings.TRIBUTARY_IMPORT_WORKERS = at_once
    monkeypatch.setattr(runner, "BATCH_SIZE", 7)  # many batches from a small file
    Customer.objects.create(email="known@example.com", first_name="Kim")
    Identity.objects.create(
        type_id=_email_type(), value="known@example.com", customer=Customer.objects.get()
    )
    rows = [["Email", "First Name", "DOB"]]
    for n in range(60):
        rows.append([f"person{n}@example.com", f"p{n}", "1990-01-01"])
    rows[10] = ["not-an-email", "Bad", "1990-01-01"]  # no usable identifier: rejected
    rows[20] = ["person18@example.com", "Again", "1990-02-30"]  # same person, bad date
    rows[30] = ["KNOWN@example.com", "Kimberly", "1980-05-05"]
    job = create_import_job(file=ContentFile(csv_bytes(rows)), name="people.csv", kind="customers")
    set_mapping(job=job, overrides={})

    job = run_import(job_id=job.pk, dry_run=False, processes=processes)

    assert job.status == "done"
    assert job.rows_done == 60
    assert job.rows_invalid == 1
    assert job.rows_new + job.rows_updated + job.rows_unchanged + job.rows_merged == 59
    assert job.rows_new == 57  # 60 rows - the bad one - the repeat - the known person
    assert Customer.objects.filter(first_name="Kimberly").count() == 1
    assert Customer.objects.filter(email__startswith="person").count() == 57
    rejected = job.issues.filter(severity="error").values_list("row", "code")
    assert list(rejected) == [(11, "no_identifier")]
    assert job.issues.filter(row=21, severity="warning").exists()
    assert DataQualityIssue.objects.filter(code="invalid_date").count() == 1


def _email_type() -> int:
    from customers.models import IdentifierType

    return IdentifierType.objects.get(name="email").pk
