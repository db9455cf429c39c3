"""Consent gates what leaves: exports (admin and service)."""

import csv
import io

from django.urls import reverse

from consent.services.consent import record_consent
from sources.exports.service import export_customers, export_events
from sources.pipeline import process_message

from .helpers import message


def _person(source, email):
    return process_message(message(source, traits={"email": email})).customer


def _emails(export) -> list[str]:
    text = b"".join(export.chunks).decode("utf-8-sig")
    return sorted(row[1] for row in list(csv.reader(io.StringIO(text)))[1:])


def test_customer_export_holds_only_customers_the_purpose_allows(source):
    ann, bob, _cy = (_person(source, f"{n}@example.com") for n in ("ann", "bob", "cy"))
    record_consent(customer=ann, purpose="email_marketing", state="granted", method="api")
    record_consent(customer=bob, purpose="analytics", state="withdrawn", method="api")
    from customers.models import Customer

    everyone = Customer.objects.all()
    assert _emails(
        export_customers(customers=everyone, file_format="csv", purpose="email_marketing")
    ) == ["ann@example.com"]
    assert _emails(
        export_customers(customers=everyone, file_format="csv", purpose="analytics")
    ) == ["ann@example.com", "cy@example.com"]


def test_event_export_leaves_out_events_of_customers_not_allowed(source):
    from customers.models import Event

    ann = process_message(message(source, type="track", event="A", user_id="ann")).customer
    process_message(message(source, type="track", event="B", user_id="bob"))
    record_consent(customer=ann, purpose="advertising", state="granted", method="api")
    export = export_events(events=Event.objects.all(), file_format="csv", purpose="advertising")
    text = b"".join(export.chunks).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert [r[3] for r in rows] == ["A"]


def test_admin_export_asks_for_the_purpose_then_gates_the_file(admin_client, source):
    ann, bob = (_person(source, f"{n}@example.com") for n in ("ann", "bob"))
    record_consent(customer=bob, purpose="sms_marketing", state="granted", method="api")
    url = reverse("admin:customers_customer_changelist")
    selection = {"action": "export_csv", "_selected_action": [str(ann.pk), str(bob.pk)]}

    asked = admin_client.post(url, selection)
    assert asked.status_code == 200
    assert b'name="purpose"' in asked.content

    response = admin_client.post(url, {**selection, "purpose": "sms_marketing"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert [row[1] for row in list(csv.reader(io.StringIO(text)))[1:]] == ["bob@example.com"]
