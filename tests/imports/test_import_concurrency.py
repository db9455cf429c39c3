"""Imports on PostgreSQL run batches at once, in threads (worker tasks) or
processes (the import command), each with its own connection.

Transactional: the threads must see the committed job and profiles, as they
do outside tests (inside a caller's transaction the import stays in one
thread, which every other import test exercises). Small batches put the
same person in batches that run at the same time.
"""

import pytest
from django.core.files.base import ContentFile

from customers.models import Customer, DataQualityIssue, Event, IdentifierType, Identity
from sources.imports import runner
from sources.imports.jobs import create_import_job, set_mapping
from sources.imports.runner import run_import
from tests.imports.conftest import csv_bytes

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _known_person_with_email_and_phone() -> Customer:
    person = Customer.objects.create(email="known2@example.com", first_name="Kim", city="Oldcity")
    for type_name, value in (("email", "known2@example.com"), ("phone", "+14152000001")):
        Identity.objects.create(
            type=IdentifierType.objects.get(name=type_name), value=value, customer=person
        )
    return person


def _rows() -> list[list[str]]:
    """60 data rows in batches of 7 (data index n is file row n + 1)."""
    rows = [["Email", "Phone Number", "First Name", "City", "DOB"]]
    for n in range(1, 61):
        rows.append([f"person{n}@example.com", "", f"p{n}", f"Town{n}", "1990-01-01"])
    duplicate = ["dup@example.com", "", "Dee", "Dublin", "1990-01-01"]
    rows[3] = rows[40] = duplicate  # batches 1 and 6
    rows[10] = ["not-an-email", "", "Bad", "", ""]  # no usable identifier: rejected
    rows[13] = ["later@example.com", "", "Old", "Oldtown", ""]  # batch 2
    rows[15] = ["later@example.com", "", "New", "Newtown", ""]  # batch 3: the later row wins
    rows[20] = ["person20@example.com", "", "p20", "Town20", "1990-02-30"]  # bad date
    rows[24] = ["known2@example.com", "", "Kimi", "", ""]  # batch 4, by email
    rows[30] = ["", "+1 415 200 0001", "", "Phoneville", ""]  # batch 5, by phone
    return rows


@pytest.mark.parametrize(("at_once", "processes"), [(1, False), (3, False), (3, True)])
def test_concurrent_import_gives_what_a_sequential_one_gives(
    at_once, processes, settings, monkeypatch
):
    settings.TRIBUTARY_IMPORT_WORKERS = at_once
    monkeypatch.setattr(runner, "BATCH_SIZE", 7)
    known = _known_person_with_email_and_phone()
    job = create_import_job(
        file=ContentFile(csv_bytes(_rows())), name="people.csv", kind="customers"
    )
    set_mapping(job=job, overrides={})

    job = run_import(job_id=job.pk, dry_run=False, processes=processes)

    assert job.status == "done"
    assert (job.rows_done, job.rows_invalid) == (60, 1)
    assert job.rows_new + job.rows_updated + job.rows_unchanged + job.rows_merged == 59
    assert job.rows_new == 53 + 2  # plain rows, dup and later once each
    later = Customer.objects.get(email="later@example.com")
    assert (later.first_name, later.city) == ("New", "Newtown")
    # one batch reached Kim by email, another by phone: neither change is lost
    known.refresh_from_db()
    assert (known.first_name, known.city, known.email) == ("Kimi", "Phoneville", known.email)
    dup = Customer.objects.get(email="dup@example.com")
    assert Event.objects.filter(customer=dup).count() == 1
    rejected = job.issues.filter(severity="error").values_list("row", "code")
    assert list(rejected) == [(11, "no_identifier")]
    assert job.issues.filter(row=21, severity="warning").exists()
    assert DataQualityIssue.objects.filter(code="invalid_date").count() == 1
