"""Two workers run an import's batches at the same time (PostgreSQL).

The batches a run queues are captured and handed to two threads, each with
its own database connection, as two Celery worker processes would take
them off the ``imports`` queue. Transactional: the threads must see the
committed job and profiles. Small batches put the same person in batches
that run at the same time.
"""

import queue
import threading

import pytest
from django.core.files.base import ContentFile
from django.db import connection

from customers.models import Customer, DataQualityIssue, Event, IdentifierType, Identity
from sources import tasks
from sources.imports import runner
from sources.imports.jobs import create_import_job, set_mapping
from sources.imports.runner import run_import
from sources.models import ImportJob
from tests.imports.conftest import csv_bytes

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def sent(monkeypatch):
    """The batches a run queues, kept for the "workers" below."""
    queued: list[dict] = []
    monkeypatch.setattr(
        tasks.import_batch, "apply_async", lambda *, kwargs, **options: queued.append(kwargs)
    )
    return queued


def _two_workers(batches: list[dict], *, together: bool = False) -> None:
    """Run the batches in two threads; ``together``: two batches, started at once."""
    work: queue.Queue[dict] = queue.Queue()
    for batch in batches:
        work.put(batch)
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            if together:
                start.wait(timeout=10)
            while True:
                try:
                    batch = work.get_nowait()
                except queue.Empty:
                    return
                tasks.import_batch(**batch)
        except BaseException as error:  # handed to the test
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures


def _start(rows: list[list[str]]) -> ImportJob:
    job = create_import_job(file=ContentFile(csv_bytes(rows)), name="people.csv")
    set_mapping(job=job, overrides={})
    return run_import(job_id=job.pk, dry_run=False)


def test_two_batches_with_the_same_new_person_at_once_create_one_profile(sent, monkeypatch):
    monkeypatch.setattr(runner, "BATCH_SIZE", 3)
    rows = [
        ["Email", "First Name", "Surname", "City"],
        ["renee.dubois@example.fr", "Renée", "Dubois", "Lyon"],
        ["anna.weiss@example.at", "Anna", "Weiß", "Graz"],
        ["bob@example.com", "Bob", "Smith", "Austin"],
        # the second batch: Renée again (as her CRM writes her), then two others
        ["RENEE.DUBOIS@EXAMPLE.FR", "Renée", "Dubois", "Villeurbanne"],
        ["carl@example.se", "Carl", "Åström", "Malmö"],
        ["dana@example.com", "Dana", "Lee", "Austin"],
    ]
    job = _start(rows)
    assert len(sent) == 2

    _two_workers(sent, together=True)

    job.refresh_from_db()
    assert (job.status, job.batches_done, job.rows_done, job.rows_new) == ("done", 2, 6, 5)
    assert job.rows_updated + job.rows_unchanged == 1
    assert Customer.objects.count() == 5
    renee = Identity.objects.get(type__name="email", value="renee.dubois@example.fr").customer
    assert renee.city == "Villeurbanne"  # the later row, whichever batch ran first


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


def test_two_workers_import_a_file_as_one_process_would(sent, monkeypatch):
    monkeypatch.setattr(runner, "BATCH_SIZE", 7)
    known = _known_person_with_email_and_phone()
    job = _start(_rows())
    assert (job.status, job.batches_total, len(sent)) == ("running", 9, 9)

    _two_workers(sent)

    job.refresh_from_db()
    assert (job.status, job.batches_done) == ("done", 9)
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
