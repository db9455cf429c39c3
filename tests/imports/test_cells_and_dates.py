"""Cells as spreadsheets write them: Excel's ' guard, two-line streets, date orders."""

from datetime import date

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import Customer
from sources.models import ImportJob
from tests.imports.conftest import csv_bytes, xlsx_bytes

US_DATES = [
    ["Email", "Birthdate"],
    ["a@example.com", "3/14/1985"],
    ["b@example.com", "01/02/1980"],
    ["c@example.com", "7/4/1990"],
]


def _birthdays():
    return dict(Customer.objects.values_list("email", "birthday"))


def test_a_column_that_reads_month_first_only_is_read_month_first(import_file):
    job = import_file("us.csv", csv_bytes(US_DATES))
    assert _birthdays() == {
        "a@example.com": date(1985, 3, 14),
        "b@example.com": date(1980, 1, 2),
        "c@example.com": date(1990, 7, 4),
    }
    assert (job.column_types, job.issues.count()) == ({"Birthdate": "MDY"}, 0)


def test_the_date_order_option_decides_for_every_column(import_file):
    rows = [["Email", "DOB"], ["a@example.com", "01/02/1980"], ["b@example.com", "3/14/1985"]]
    job = import_file("eu.csv", csv_bytes(rows), date_order="DMY")
    assert _birthdays() == {"a@example.com": date(1980, 2, 1), "b@example.com": None}
    assert list(job.issues.values_list("row", "column", "code")) == [(3, "DOB", "invalid_date")]


def test_an_ambiguous_column_without_an_order_is_a_warning_per_ambiguous_date(import_file):
    rows = [["Email", "DOB"], ["a@example.com", "01/02/1980"], ["b@example.com", "1985-03-14"]]
    job = import_file("x.csv", csv_bytes(rows))
    assert _birthdays() == {"a@example.com": None, "b@example.com": date(1985, 3, 14)}
    assert list(job.issues.values_list("row", "column", "code")) == [(2, "DOB", "ambiguous_date")]


def test_a_column_with_both_orders_decides_nothing(import_file):
    rows = [["Email", "DOB"], ["a@example.com", "3/14/1985"], ["b@example.com", "14/03/1985"]]
    job = import_file("x.csv", csv_bytes(rows))
    assert _birthdays() == {"a@example.com": date(1985, 3, 14), "b@example.com": date(1985, 3, 14)}
    assert "DOB" not in job.column_types


def test_the_admin_mapping_step_sets_the_date_order(
    admin_client, django_capture_on_commit_callbacks
):
    content = csv_bytes([["Email", "DOB"], ["a@example.com", "01/02/1980"]])
    admin_client.post(
        reverse("admin:sources_importjob_add"),
        {"file": SimpleUploadedFile("eu.csv", content), "kind": "customers"},
    )
    job = ImportJob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:sources_importjob_mapping", args=[job.pk]),
            {"column_0": "email", "column_1": "birthday", "date_order": "DMY"},
        )
    job.refresh_from_db()
    assert (job.date_order, job.status, job.column_types) == ("DMY", "previewed", {"DOB": "DMY"})
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:sources_importjob_confirm", args=[job.pk]))
    assert _birthdays() == {"a@example.com": date(1980, 2, 1)}


def test_excels_text_guard_is_stripped_from_every_cell(import_file):
    rows = [
        ["Email", "Zip", "Phone", "Member"],
        ["'ann@example.com", "'02116", "'+1 617 555 0142", "'0042"],
    ]
    import_file("guarded.csv", csv_bytes(rows))
    ann = Customer.objects.get()
    assert (ann.email, ann.postal_code, ann.phone) == ("ann@example.com", "02116", "+16175550142")
    assert ann.traits == {"member": "0042"}


def test_a_two_line_street_fills_both_address_lines(import_file):
    rows = [["Email", "Street"], ["ann@example.com", "Flat 3\r\n221B Baker Street"]]
    import_file("x.xlsx", xlsx_bytes(rows))
    ann = Customer.objects.get()
    assert (ann.address_line1, ann.address_line2) == ("Flat 3", "221B Baker Street")


def test_a_two_line_street_keeps_an_address_line_2_given_in_its_own_column(import_file):
    rows = [["Email", "Street", "Address 2"], ["ann@example.com", "1 Main St\nrear", "Unit 9"]]
    import_file("x.csv", csv_bytes(rows))
    ann = Customer.objects.get()
    assert (ann.address_line1, ann.address_line2) == ("1 Main St rear", "Unit 9")
