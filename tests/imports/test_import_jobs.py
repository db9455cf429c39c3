from datetime import UTC, datetime

import pytest

from core.models import OutboxEntry
from customers.models import Customer, DataQualityIssue, Event, Identity
from sources.models import ImportJob
from tests.imports.conftest import csv_bytes, json_bytes, xlsx_bytes

HEADER = ["E-mail", "First Name", "Surname", "Phone Number", "DOB", "Country", "Tier"]
ANN = ["ann@example.com", "Ann", "Lee", "+1 415 555 2671", "1990-02-03", "us", "gold"]
BOB = ["bob@example.com", "Bob", "Ray", "", "", "DE", ""]


def _counts(job):
    return {
        "total": job.rows_total,
        "done": job.rows_done,
        "new": job.rows_new,
        "updated": job.rows_updated,
        "merged": job.rows_merged,
        "unchanged": job.rows_unchanged,
        "invalid": job.rows_invalid,
        "warnings": job.rows_with_warnings,
    }


def _issues(job):
    return list(job.issues.values_list("row", "column", "value", "severity", "code"))


def test_customer_rows_create_profiles_with_fields_traits_and_source(import_file):
    job = import_file("people.csv", csv_bytes([HEADER, ANN, BOB]))
    assert job.status == ImportJob.Status.DONE
    assert _counts(job)["new"] == 2
    ann = Customer.objects.get(email="ann@example.com")
    assert (ann.first_name, ann.last_name, ann.phone, ann.country) == (
        "Ann",
        "Lee",
        "+14155552671",
        "US",
    )
    assert ann.traits == {"tier": "gold"}
    assert ann.trait_provenance["first_name"]["source"] == job.source_id
    assert set(ann.identities.values_list("type__name", "value", "source_id")) == {
        ("email", "ann@example.com", job.source_id),
        ("phone", "+14155552671", job.source_id),
    }
    assert job.source.name == "File: people.csv"
    assert job.source.kind == "file"


@pytest.mark.parametrize(
    ("column", "bad", "code"),
    [
        ("E-mail", "ann-at-example", "invalid_email"),
        ("Phone Number", "12", "invalid_phone"),
        ("DOB", "1990-02-31", "invalid_date"),
        ("DOB", "2190-01-01", "implausible_birthday"),
        ("Country", "Atlantis", "invalid_country"),
    ],
)
def test_a_bad_value_is_left_out_and_the_rest_of_the_row_imported(import_file, column, bad, code):
    row = list(ANN)
    row[HEADER.index(column)] = bad
    job = import_file("people.csv", csv_bytes([HEADER, row]))
    assert _counts(job) == {
        "total": 1, "done": 1, "new": 1, "updated": 0, "merged": 0, "unchanged": 0,
        "invalid": 0, "warnings": 1,
    }  # fmt: skip
    assert _issues(job) == [(2, column, bad, "warning", code)]
    customer = Customer.objects.get()
    assert customer.first_name == "Ann"
    assert customer.traits == {"tier": "gold"}
    recorded = DataQualityIssue.objects.get()
    assert (recorded.customer, recorded.source_id, recorded.value, recorded.code) == (
        customer, job.source_id, bad, code
    )  # fmt: skip


def test_a_row_without_any_usable_identifier_is_rejected_and_reported(import_file):
    rows = [HEADER, ANN, ["not-an-email", "Zed", "", "", "", "", ""], BOB]
    job = import_file("people.csv", csv_bytes(rows))
    assert (job.rows_new, job.rows_invalid) == (2, 1)
    assert _issues(job) == [
        (3, "E-mail", "not-an-email", "warning", "invalid_email"),
        (3, "", "", "error", "no_identifier"),
    ]
    assert not Customer.objects.filter(first_name="Zed").exists()


def test_extra_cells_are_reported_and_the_row_imported(import_file):
    job = import_file("people.csv", b"Email,Name\nann@example.com,Ann,surplus\n")
    assert (job.rows_new, job.rows_with_warnings) == (1, 1)
    assert _issues(job) == [(2, "", "surplus", "warning", "extra_cells")]


def test_a_json_row_that_is_not_an_object_is_rejected(import_file):
    job = import_file("people.json", b'[{"email": "ann@example.com"}, "oops"]')
    assert (job.rows_new, job.rows_invalid) == (1, 1)
    assert _issues(job) == [(2, "", "", "error", "malformed_row")]


def test_reimporting_the_same_file_changes_nothing(import_file):
    bad_phone = [*BOB[:3], "12", *BOB[4:]]
    content = csv_bytes([HEADER, ANN, bad_phone, ["", "Nobody", "", "", "", "", ""]])
    import_file("people.csv", content)
    before = (
        list(Customer.objects.values()),
        Customer.history.count(),
        Identity.objects.count(),
        Event.objects.count(),
        OutboxEntry.objects.count(),
        DataQualityIssue.objects.count(),
    )
    again = import_file("people.csv", content)
    assert _counts(again) == {
        "total": 3, "done": 3, "new": 0, "updated": 0, "merged": 0, "unchanged": 2,
        "invalid": 1, "warnings": 1,
    }  # fmt: skip
    after = (
        list(Customer.objects.values()),
        Customer.history.count(),
        Identity.objects.count(),
        Event.objects.count(),
        OutboxEntry.objects.count(),
        DataQualityIssue.objects.count(),
    )
    assert after == before
    assert _issues(again) == [
        (3, "Phone Number", "12", "warning", "invalid_phone"),
        (4, "", "", "error", "no_identifier"),
    ]


def test_identical_rows_in_one_file_are_imported_once(import_file):
    job = import_file("people.csv", csv_bytes([HEADER, ANN, ANN]))
    assert (job.rows_new, job.rows_unchanged) == (1, 1)


def test_rows_matching_existing_people_update_them(import_file):
    import_file("crm.csv", csv_bytes([HEADER, ANN]))
    job = import_file("shop.csv", b"email,city,Tier\nANN@example.com,Berlin,platinum\n")
    assert (job.rows_new, job.rows_updated) == (0, 1)
    ann = Customer.objects.get()
    assert (ann.city, ann.traits["tier"], ann.first_name) == ("Berlin", "platinum", "Ann")


def test_a_row_naming_two_known_people_merges_them(import_file):
    import_file("a.csv", b"email\nann@example.com\n")
    import_file("b.csv", b"phone\n+1 415 555 2671\n")
    first, second = Customer.objects.order_by("first_seen", "pk")
    job = import_file("c.csv", b"email,phone\nann@example.com,+14155552671\n")
    assert (job.rows_merged, job.rows_new, job.rows_updated) == (1, 0, 0)
    second.refresh_from_db()
    assert second.merged_into == first
    assert set(first.identities.values_list("type__name", flat=True)) == {"email", "phone"}


def test_identifier_columns_become_identities(import_file):
    import_file("crm.csv", b"crm_id,Email\nC-77,ann@example.com\n")
    assert Identity.objects.get(type__name="external_id").value == "C-77"
    job = import_file("crm2.csv", b"crm_id,Tier\nC-77,gold\n")
    assert job.rows_updated == 1
    assert Customer.objects.get().traits == {"tier": "gold"}


def test_preview_counts_exactly_and_writes_nothing(import_file):
    import_file("a.csv", b"email\nann@example.com\n")
    import_file("b.csv", b"phone\n+1 415 555 2671\n")
    snapshot = (Customer.objects.count(), Identity.objects.count(), Event.objects.count())
    rows = [
        ["email", "phone", "First Name"],
        ["ann@example.com", "+14155552671", "Ann"],  # merges the two
        ["new@example.com", "", "Neo"],
        ["new@example.com", "", "Neo"],  # the same row again
        ["new@example.com", "bad", "Neo R."],  # updates the row-3 person
        ["", "", "Nobody"],
    ]
    preview = import_file("c.csv", csv_bytes(rows), dry_run=True)
    assert preview.status == ImportJob.Status.PREVIEWED
    assert preview.dry_run
    expected = {
        "total": 5, "done": 5, "new": 1, "updated": 1, "merged": 1, "unchanged": 1,
        "invalid": 1, "warnings": 1,
    }  # fmt: skip
    assert _counts(preview) == expected
    assert _issues(preview) == [
        (5, "phone", "bad", "warning", "invalid_phone"),
        (6, "", "", "error", "no_identifier"),
    ]
    assert (Customer.objects.count(), Identity.objects.count(), Event.objects.count()) == snapshot
    real = import_file("c.csv", csv_bytes(rows))
    assert _counts(real) == expected


def test_xlsx_files_import_like_csv(import_file):
    rows = [
        ["Email", "Phone", "DOB", "Zip", "Visits"],
        ["ann@example.com", 14155552671, None, 1010, 3.0],
    ]
    job = import_file("people.xlsx", xlsx_bytes(rows))
    assert job.format == "xlsx"
    assert job.rows_new == 1
    ann = Customer.objects.get()
    assert (ann.phone, ann.postal_code, ann.traits) == ("+14155552671", "1010", {"visits": 3})


def test_json_files_import_like_csv(import_file):
    content = json_bytes([{"email": "ann@example.com", "vip": True, "prefs": {"news": 1}}])
    job = import_file("people.json", content)
    assert job.rows_new == 1
    assert Customer.objects.get().traits == {"vip": True, "prefs": {"news": 1}}


def test_event_rows_become_track_events_of_the_matching_person(import_file):
    import_file("people.csv", csv_bytes([HEADER, ANN]))
    content = csv_bytes(
        [
            ["email", "event", "timestamp", "amount"],
            ["ann@example.com", "Order Completed", "2026-03-01T10:00:00Z", "42.5"],
            ["ann@example.com", "", "2026-03-01T10:00:00Z", "1"],
            ["ann@example.com", "Order Completed", "yesterday", "1"],
        ]
    )
    job = import_file("orders.csv", content, kind="events")
    assert (job.rows_updated, job.rows_invalid) == (1, 2)
    assert [(r, c, code) for r, c, _, _, code in _issues(job)] == [
        (3, "event", "missing_event"),
        (4, "timestamp", "invalid_timestamp"),
    ]
    event = Event.objects.get(type="track")
    assert event.customer == Customer.objects.get()
    assert (event.name, event.properties) == ("Order Completed", {"amount": "42.5"})
    assert event.timestamp == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert import_file("orders.csv", content, kind="events").rows_unchanged == 1


def test_a_file_that_becomes_unreadable_fails_the_job_with_a_reason(import_file, media_root):
    from django.core.files.base import ContentFile

    from sources.imports.jobs import create_import_job
    from sources.imports.runner import run_import

    job = create_import_job(file=ContentFile(b"email\na@x.io\n"), name="a.csv")
    job.file.delete(save=False)
    job = run_import(job_id=job.pk, dry_run=False)
    assert job.status == ImportJob.Status.FAILED
    assert "does not exist" in job.error


def test_preview_then_confirm_run_as_tasks_after_commit(db, django_capture_on_commit_callbacks):
    from django.core.files.base import ContentFile

    from sources.imports.jobs import (
        ImportStateError,
        confirm_import,
        create_import_job,
        start_preview,
    )

    job = create_import_job(file=ContentFile(csv_bytes([HEADER, ANN])), name="people.csv")
    with django_capture_on_commit_callbacks(execute=True):
        start_preview(job=job)
    job.refresh_from_db()
    assert (job.status, job.dry_run, job.rows_new, Customer.objects.count()) == (
        ImportJob.Status.PREVIEWED, True, 1, 0
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        confirm_import(job=job)
    job.refresh_from_db()
    assert (job.status, job.dry_run, job.rows_new, Customer.objects.count()) == (
        ImportJob.Status.DONE, False, 1, 1
    )  # fmt: skip
    job.status = ImportJob.Status.RUNNING
    job.save()
    with pytest.raises(ImportStateError):
        confirm_import(job=job)


def test_a_long_import_does_not_keep_a_query_log_in_debug_mode(import_file, settings, monkeypatch):
    """With DEBUG on, Django logs every query: the import drops the log per batch,
    so memory does not grow with the file."""
    from django.db import connection

    from sources.imports import runner

    monkeypatch.setattr(runner, "BATCH_SIZE", 2)
    settings.DEBUG = True
    rows = [[f"p{n}@example.com", f"P{n}", "Lee", "", "", "us", ""] for n in range(10)]

    job = import_file("people.csv", csv_bytes([HEADER, *rows]))

    assert _counts(job)["new"] == 10
    per_batch = len(connection.queries)
    # one batch's queries (about 40), far from the five batches' a kept log holds
    assert 0 < per_batch < 80
