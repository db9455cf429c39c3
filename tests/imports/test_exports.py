import csv
import io

import pytest
from django.urls import reverse

from customers.models import Customer, Event
from sources.exports.escaping import escape_formula
from sources.exports.service import export_customers
from tests.imports.conftest import csv_bytes


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("ann@example.com", "ann@example.com"),
        ("+4915112345678", "'+4915112345678"),
        ("plain", "plain"),
        ("", ""),
        (42, 42),
        (None, None),
    ],
)
def test_cells_that_a_spreadsheet_would_evaluate_are_prefixed_with_a_quote(value, escaped):
    assert escape_formula(value) == escaped


def _customers(import_file):
    content = csv_bytes(
        [
            ["email", "First Name", "Surname", "crm_id", "Note"],
            ["ann@example.com", '=HYPERLINK("http://evil")', "Lee", "C-1", "@SUM(A1)"],
            ["bob@example.com", "Bob", "-Ray", "C-2", "vip"],
            ["cy@example.com", "Cy", "Ng", "", ""],
        ]
    )
    import_file("people.csv", content)


def _csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def _post_action(admin_client, url_name, action, ids):
    return admin_client.post(
        reverse(url_name),
        {"action": action, "_selected_action": [str(i) for i in ids], "purpose": "analytics"},
    )


def test_customer_export_action_writes_escaped_csv(admin_client, import_file):
    _customers(import_file)
    ann, bob = Customer.objects.filter(email__in=["ann@example.com", "bob@example.com"]).order_by(
        "pk"
    )
    response = _post_action(
        admin_client, "admin:customers_customer_changelist", "export_csv", [ann.pk, bob.pk]
    )
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="customers-')
    rows = _csv(response)
    header = rows[0]
    assert header[:4] == ["id", "email", "phone", "first_name"]
    assert header[-4:] == ["traits", "identifiers", "first_seen", "last_seen"]
    by_email = {row[1]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert set(by_email) == {"ann@example.com", "bob@example.com"}
    assert by_email["ann@example.com"]["first_name"] == '\'=HYPERLINK("http://evil")'
    assert by_email["ann@example.com"]["traits"] == '{"note": "@SUM(A1)"}'
    assert by_email["ann@example.com"]["identifiers"] == "email:ann@example.com; external_id:C-1"
    assert by_email["bob@example.com"]["last_name"] == "'-Ray"


def test_customer_export_of_the_filtered_list_as_xlsx(admin_client, import_file):
    from openpyxl import load_workbook

    _customers(import_file)
    response = admin_client.post(
        reverse("admin:customers_customer_changelist") + "?q=Lee",
        {
            "action": "export_xlsx",
            "select_across": "1",
            "_selected_action": ["0"],
            "purpose": "analytics",
        },
    )
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    rows = [list(r) for r in workbook.worksheets[0].iter_rows(values_only=True)]
    assert len(rows) == 2
    assert rows[1][1:4] == ["ann@example.com", None, '\'=HYPERLINK("http://evil")']


def test_event_export_action(admin_client, import_file):
    _customers(import_file)
    events = list(Event.objects.order_by("pk").values_list("pk", flat=True))
    response = _post_action(admin_client, "admin:customers_event_changelist", "export_csv", events)
    rows = _csv(response)
    assert rows[0] == [
        "id", "timestamp", "type", "name", "customer", "source", "message_id", "properties"
    ]  # fmt: skip
    assert len(rows) == 4
    assert {r[2] for r in rows[1:]} == {"identify"}


def test_export_reads_identifiers_without_a_query_per_customer(
    import_file, django_assert_max_num_queries
):
    _customers(import_file)
    export = export_customers(
        customers=Customer.objects.all(), file_format="csv", purpose="analytics"
    )
    with django_assert_max_num_queries(4):
        lines = b"".join(export.chunks).decode("utf-8-sig").splitlines()
    assert len(lines) == 4


def test_segment_members_export(admin_client, import_file):
    from datetime import UTC, datetime

    from segments.models import Segment, SegmentMembership

    _customers(import_file)
    ann = Customer.objects.get(email="ann@example.com")
    cy = Customer.objects.get(email="cy@example.com")
    segment = Segment.objects.create(name="VIPs", kind="static")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    SegmentMembership.objects.create(segment=segment, customer=ann, entered_at=at)
    SegmentMembership.objects.create(segment=segment, customer=cy, entered_at=at, exited_at=at)
    response = _post_action(
        admin_client, "admin:segments_segment_changelist", "export_csv", [segment.pk]
    )
    rows = _csv(response)
    assert [row[1] for row in rows[1:]] == ["ann@example.com"]
