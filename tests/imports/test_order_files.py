"""Order files: one event per order, with its products and typed totals (Segment's
e-commerce spec), at the order's time, with a stable message id."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from customers.models import Customer, Event
from sources.models import ImportJob
from tests.imports.conftest import FILES, csv_bytes, vendor_file

HEADER = [
    "Name",
    "Email",
    "Financial Status",
    "Paid at",
    "Currency",
    "Subtotal",
    "Total",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Billing Name",
    "Billing Phone",
]


def _orders():
    return {e.message_id: e for e in Event.objects.filter(type="track")}


def test_a_shopify_orders_export_becomes_one_purchase_event_per_order(import_file):
    job = import_file("orders_export_1.csv", vendor_file("shopify_orders.csv"), kind="events")
    assert (job.status, job.rows_total, job.rows_done, job.rows_invalid) == ("done", 3, 3, 0)
    orders = _orders()
    assert set(orders) == {"shopify-order:#1001", "shopify-order:#1002", "shopify-order:#1003"}
    first = orders["shopify-order:#1001"]
    assert (first.name, first.timestamp) == (
        "Order Completed",
        datetime(2024, 3, 14, 9, 22, 5, tzinfo=UTC),
    )
    assert first.properties == {
        "order_id": "#1001",
        "financial_status": "paid",
        "paid_at": "2024-03-14 10:25:00 +0100",
        "currency": "EUR",
        "subtotal": 59.8,
        "total": 64.7,
        "products": [
            {"quantity": 2, "name": "Wool Socks — Grey", "price": 19.9},
            {"quantity": 1, "name": "Beanie", "price": 20.0},
        ],
    }
    # the buyer is found by email and Billing Phone
    assert set(first.customer.identities.values_list("type__name", "value")) == {
        ("email", "zoe.mueller@example.com"),
        ("phone", "+4915123456789"),
    }
    third = orders["shopify-order:#1003"]
    assert third.properties["products"] == [
        {"quantity": 3, "name": "Coffee Beans 250g", "price": 10.0},
        {"quantity": 1, "name": "Gift wrap"},
    ]
    # the bad price is reported on its own file row
    assert list(job.issues.values_list("row", "column", "value", "code")) == [
        (6, "Lineitem price", "five", "invalid_number")
    ]
    assert "Billing Name" not in str(first.properties)


def test_reimporting_the_orders_file_adds_no_event(import_file):
    import_file("orders.csv", vendor_file("shopify_orders.csv"), kind="events")
    job = import_file("orders.csv", vendor_file("shopify_orders.csv"), kind="events")
    assert (job.rows_unchanged, Event.objects.filter(type="track").count()) == (3, 3)


def test_the_purchase_event_setting_names_order_events(import_file, settings):
    settings.TRIBUTARY_PURCHASE_EVENT = "Purchase"
    import_file("orders.csv", vendor_file("shopify_orders.csv"), kind="events")
    assert set(Event.objects.filter(type="track").values_list("name", flat=True)) == {"Purchase"}


def test_a_fixed_event_name_is_given_to_every_row(import_file):
    rows = [["email", "amount"], ["ann@example.com", "5"], ["bob@example.com", "7"]]
    job = import_file("x.csv", csv_bytes(rows), kind="events", event_name="Donation Made")
    assert job.status == "done"
    events = Event.objects.order_by("customer__pk").values_list("name", "properties")
    assert list(events) == [("Donation Made", {"amount": "5"}), ("Donation Made", {"amount": "7"})]


def test_rows_of_one_order_that_are_apart_are_rejected_not_merged(import_file):
    rows = [
        HEADER,
        [
            "#1",
            "ann@example.com",
            "paid",
            "",
            "EUR",
            "10",
            "10",
            "2024-01-01",
            "1",
            "A",
            "10",
            "",
            "",
        ],
        ["#2", "bob@example.com", "paid", "", "EUR", "5", "5", "2024-01-02", "1", "B", "5", "", ""],
        ["#1", "ann@example.com", "", "", "", "", "", "2024-01-01", "1", "C", "3", "", ""],
    ]
    job = import_file("orders.csv", csv_bytes(rows), kind="events")
    assert (job.rows_total, job.rows_invalid) == (3, 1)
    assert list(job.issues.values_list("row", "severity", "code")) == [
        (4, "error", "order_rows_apart")
    ]
    assert _orders()["shopify-order:#1"].properties["products"] == [
        {"quantity": 1, "name": "A", "price": 10}
    ]


def test_a_row_without_its_order_id_is_rejected(import_file):
    rows = [HEADER, ["", "ann@example.com", "paid", "", "EUR", "10", "10", "2024-01-01", "1", "A"]]
    job = import_file("orders.csv", csv_bytes(rows), kind="events")
    assert list(job.issues.values_list("row", "column", "code")) == [
        (2, "Name", "missing_order_id")
    ]


def test_the_command_takes_the_event_name(db):
    out = StringIO()
    call_command(
        "import_customers",
        str(FILES / "shopify_orders.csv"),
        "--kind",
        "events",
        "--event",
        "Order Completed",
        stdout=out,
    )
    assert "every row's event: Order Completed" in out.getvalue()
    assert Event.objects.filter(type="track", name="Order Completed").count() == 3
    assert Customer.objects.count() == 3


@pytest.mark.parametrize("kind", ["customers"])
def test_a_fixed_event_name_is_refused_for_customer_files(db, tmp_path, kind):
    from django.core.management import CommandError

    path = tmp_path / "people.csv"
    path.write_text("email\nann@example.com\n")
    with pytest.raises(CommandError, match="a fixed event name is for event files"):
        call_command("import_customers", str(path), "--kind", kind, "--event", "X")


def test_the_admin_imports_an_orders_file_with_a_fixed_event_name(
    admin_client, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("orders_export.csv", vendor_file("shopify_orders.csv"))
    admin_client.post(reverse("admin:sources_importjob_add"), {"file": upload, "kind": "events"})
    job = ImportJob.objects.get()
    url = reverse("admin:sources_importjob_mapping", args=[job.pk])
    form = admin_client.get(url).context["form"]
    data = {name: form[name].initial for name, _ in form.columns}
    assert data["column_0"] == "order_id.shopify"
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {**data, "event_name": "Shopify Order"})
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:sources_importjob_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert (job.status, job.event_name) == ("done", "Shopify Order")
    assert set(Event.objects.filter(type="track").values_list("name", flat=True)) == {
        "Shopify Order"
    }


def test_an_order_with_too_many_rows_is_refused_row_by_row(import_file, monkeypatch):
    monkeypatch.setattr("sources.imports.orders.MAX_LINES", 2)
    line = ["ann@example.com", "paid", "", "EUR", "10", "10", "2024-01-01", "1", "A", "10", "", ""]
    rows = [HEADER, *(["#1", *line] for _ in range(4)), ["#2", *line]]
    job = import_file("orders.csv", csv_bytes(rows), kind="events")
    assert (job.rows_total, job.rows_invalid) == (4, 3)
    assert list(job.issues.values_list("row", "code")) == [
        (2, "order_too_long"),
        (4, "order_too_long"),
        (5, "order_too_long"),
    ]
    assert set(_orders()) == {"shopify-order:#2"}
