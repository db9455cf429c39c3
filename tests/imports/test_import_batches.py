"""An import's batches are Celery tasks: counted in the job row, applied once; the last ends it.

The batches a run sends are captured here instead of being run inline, so
that each test can deliver them as a broker might: twice, late, out of
order, or after the job was started again.
"""

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer, Event, Identity
from sources import tasks
from sources.imports import runner
from sources.imports.jobs import create_import_job, set_mapping
from sources.imports.runner import run_import
from sources.models import ImportBatch, ImportJob
from tests.imports.conftest import csv_bytes

HEADER = ["Email", "First Name", "Last Name", "City"]
ROWS = [
    ["zoe.mueller@example.de", "Zoë", "Müller", "Köln"],
    ["jose@example.es", "José", "Núñez", "Sevilla"],
    ["kein-email", "Ohne", "Adresse", ""],  # no usable identifier: rejected
    ["francois@example.fr", "François", "Lefèvre", "Besançon"],
    ["ZOE.MUELLER@example.de", "Zoë", "Müller", "Bonn"],  # Zoë again, a later row: moves
]


@pytest.fixture
def sent(monkeypatch):
    """The batches a run queues, kept instead of run (a broker's view of them)."""
    queued: list[dict] = []

    def send(*, kwargs, **options):
        # the message's headers (and so the workers' logs) name the batch, not its cells
        assert "@" not in options["kwargsrepr"]
        assert "rows" in options["kwargsrepr"]
        queued.append(kwargs)

    monkeypatch.setattr(tasks.import_batch, "apply_async", send)
    monkeypatch.setattr(runner, "BATCH_SIZE", 2)
    return queued


@pytest.fixture
def job(db):
    job = create_import_job(file=ContentFile(csv_bytes([HEADER, *ROWS])), name="kunden.csv")
    return set_mapping(job=job, overrides={})


def _deliver(batch: dict) -> dict | None:
    return tasks.import_batch(**batch)


def test_a_started_import_is_running_with_its_batches_counted_and_queued(job, sent):
    job = run_import(job_id=job.pk, dry_run=False)

    assert (job.status, job.rows_total, job.batches_total, job.batches_done) == (
        "running", 5, 3, 0
    )  # fmt: skip
    assert [b["number"] for b in sent] == [0, 1, 2]
    assert [len(b["rows"]) for b in sent] == [2, 2, 1]
    assert Customer.objects.count() == 0


def test_each_batch_adds_its_rows_to_the_job_and_the_last_one_ends_it(job, sent):
    run_import(job_id=job.pk, dry_run=False)

    # delivered out of order, as two workers may finish them
    assert _deliver(sent[1]) == {
        "rows_done": 2, "rows_new": 1, "rows_updated": 0, "rows_merged": 0,
        "rows_unchanged": 0, "rows_invalid": 1, "rows_with_warnings": 0,
        "rows_joined_weakly": 0,
    }  # fmt: skip
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.batches_done) == ("running", 2, 1)
    _deliver(sent[2])
    _deliver(sent[0])

    job.refresh_from_db()
    assert (job.status, job.batches_done, job.rows_done, job.rows_new) == ("done", 3, 5, 3)
    assert (job.rows_updated + job.rows_unchanged, job.rows_invalid) == (1, 1)
    assert job.finished_at is not None
    zoe = Customer.objects.get(email="zoe.mueller@example.de")
    assert zoe.city == "Bonn"  # the later row wins although its batch ran first
    assert list(job.issues.filter(severity="error").values_list("row", "code")) == [
        (4, "no_identifier")
    ]


def test_a_batch_delivered_twice_is_applied_and_counted_once(job, sent):
    run_import(job_id=job.pk, dry_run=False)

    _deliver(sent[0])
    assert _deliver(sent[0]) is None  # a redelivery after the commit
    job.refresh_from_db()
    assert (job.rows_done, job.rows_new, job.batches_done, job.status) == (2, 2, 1, "running")
    assert job.issues.count() == 0
    for batch in sent[1:]:
        _deliver(batch)
    _deliver(sent[1])

    job.refresh_from_db()
    assert (job.status, job.rows_done, job.batches_done) == ("done", 5, 3)
    assert job.issues.filter(severity="error").count() == 1
    assert ImportBatch.objects.filter(job=job).count() == 3
    assert Identity.objects.filter(value="zoe.mueller@example.de").count() == 1


def test_batches_of_an_earlier_run_change_nothing(job, sent):
    run_import(job_id=job.pk, dry_run=False)
    earlier = list(sent)
    job.refresh_from_db()
    job.status = ImportJob.Status.FAILED  # say it was stopped, then started again
    job.save()
    sent.clear()
    run_import(job_id=job.pk, dry_run=False)

    assert all(_deliver(batch) is None for batch in earlier)
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.batches_done) == ("running", 0, 0)
    assert Customer.objects.count() == 0
    for batch in sent:
        _deliver(batch)
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.rows_new) == ("done", 5, 3)


def test_a_batch_that_breaks_fails_the_job_with_a_reason(job, sent, monkeypatch):
    from sources.imports import batches

    run_import(job_id=job.pk, dry_run=False)

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(batches, "process_rows", broken)
    assert _deliver(sent[0]) is None

    job.refresh_from_db()
    assert (job.status, job.rows_done, job.batches_done) == ("failed", 0, 0)
    assert job.error == "the import stopped on an unexpected error (logged)"
    monkeypatch.undo()
    assert _deliver(sent[1]) is None  # the rest of a failed run is dropped
    assert Customer.objects.count() == 0


def test_a_file_without_records_is_done_at_once(db, sent):
    job = create_import_job(file=ContentFile(csv_bytes([HEADER])), name="leer.csv")
    set_mapping(job=job, overrides={})

    job = run_import(job_id=job.pk, dry_run=False)

    assert (job.status, job.rows_total, job.batches_total) == ("done", 0, 0)
    assert sent == []


def test_without_a_broker_the_batches_run_inline_before_the_import_returns(job, monkeypatch):
    monkeypatch.setattr(runner, "BATCH_SIZE", 2)

    job = run_import(job_id=job.pk, dry_run=False)

    assert (job.status, job.batches_total, job.batches_done, job.rows_done) == ("done", 3, 3, 5)
    assert Customer.objects.count() == 3


def test_a_batch_looks_up_its_rows_imported_before_in_one_query(job, sent):
    run_import(job_id=job.pk, dry_run=False)
    events = Event._meta.db_table

    with CaptureQueriesContext(connection) as queries:
        _deliver(sent[0])

    lookups = [
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT") and events in q["sql"] and "message_id" in q["sql"]
    ]
    assert len(lookups) == 1
