"""Every export says what it is for: the admin's list actions, the segment page's
"Export members" and the REST API write only the people the purpose allows, and
record the export with its purpose (``ExportRecord``), for every role."""

import csv
import io
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.masking import mask_email
from accounts.roles import DATA_STEWARD, MARKETER, VIEWER
from accounts.services.api_keys import create_api_key
from consent.services.consent import record_consent
from customers.services.identity import resolve_identity
from segments.models import Segment, SegmentMembership
from sources.models import ExportRecord

AT = datetime(2026, 3, 1, tzinfo=UTC)
ROLES = {"viewer": VIEWER, "marketer": MARKETER, "steward": DATA_STEWARD}
PEOPLE = {
    # email: (first name, last name, email_marketing consent, advertising objection)
    "zoe.muller@example.de": ("Zoë", "Müller", "granted", False),
    "francois.lemaire@example.fr": ("François", "Lemaire", "withdrawn", False),
    "siobhan.oneill@example.ie": ("Siobhán", "O'Neill", None, True),
    "jose.nunez@example.es": ("José", "Núñez", "granted", True),
}


@pytest.fixture
def people(source):
    made = {}
    for email, (first, last, consent, objects) in PEOPLE.items():
        customer = resolve_identity(
            identifiers=[("email", email)], source_id=source.pk, seen_at=timezone.now()
        ).customer
        customer.email, customer.first_name, customer.last_name = email, first, last
        customer.save()
        if consent:
            record_consent(
                customer=customer, purpose="email_marketing", state=consent, method="web_form"
            )
        if objects:
            record_consent(customer=customer, purpose="advertising", state="denied", method="api")
        made[email] = customer
    return made


@pytest.fixture
def segment(people):
    segment = Segment.objects.create(name="Spring newsletter", kind="static")
    for customer in people.values():
        SegmentMembership.objects.create(segment=segment, customer=customer, entered_at=AT)
    return segment


@pytest.fixture
def staff(db, django_user_model):
    def make(role: str) -> Client:
        if role == "superuser":
            user = django_user_model.objects.create_superuser(role, password="pw-123456789")
        else:
            user = django_user_model.objects.create_user(
                role, password="pw-123456789", is_staff=True
            )
            user.groups.add(Group.objects.get(name=ROLES[role]))
        client = Client()
        client.force_login(user)
        return client

    return make


def _emails(response) -> list[str]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    column = rows[0].index("email")
    return sorted(row[column] for row in rows[1:])


# --- the segment page ----------------------------------------------------------------


def test_segment_page_export_asks_the_purpose_first_and_exports_nothing_before(
    admin_client, segment
):
    url = reverse("admin:segments_segment_export", args=[segment.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert b'name="purpose"' in page.content
    assert not hasattr(page, "streaming_content")
    refused = admin_client.post(url, {"file_format": "csv"})
    assert b"This field is required" in refused.content
    assert not ExportRecord.objects.exists()


def test_segment_page_export_writes_only_people_the_purpose_allows(admin_client, segment):
    url = reverse("admin:segments_segment_export", args=[segment.pk])
    response = admin_client.post(url, {"purpose": "email_marketing", "file_format": "csv"})
    assert _emails(response) == ["jose.nunez@example.es", "zoe.muller@example.de"]
    record = ExportRecord.objects.get()
    assert (record.purpose.code, record.what, record.rows, record.actor, record.masked) == (
        "email_marketing",
        "segment_members",
        2,
        "user:boss",
        False,
    )
    assert record.detail == f"#{segment.pk} Spring newsletter"


def test_a_purpose_on_legitimate_interest_leaves_out_only_those_who_objected(admin_client, segment):
    from consent.models import Purpose

    Purpose.objects.filter(code="advertising").update(legal_basis="legitimate_interest")
    url = reverse("admin:segments_segment_export", args=[segment.pk])
    response = admin_client.post(url, {"purpose": "advertising", "file_format": "csv"})
    assert _emails(response) == ["francois.lemaire@example.fr", "zoe.muller@example.de"]


def test_the_segment_page_links_to_the_purpose_form(admin_client, segment):
    page = admin_client.get(reverse("admin:segments_segment_change", args=[segment.pk]))
    assert reverse("admin:segments_segment_export", args=[segment.pk]).encode() in page.content
    assert b"Export members\xe2\x80\xa6" in page.content


# --- list actions ----------------------------------------------------------------------


def test_a_list_action_records_its_purpose(admin_client, people):
    response = admin_client.post(
        reverse("admin:customers_customer_changelist"),
        {
            "action": "export_xlsx",
            "_selected_action": [str(c.pk) for c in people.values()],
            "purpose": "email_marketing",
        },
    )
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    record = ExportRecord.objects.get()
    assert (record.purpose.code, record.what, record.file_format, record.rows) == (
        "email_marketing",
        "customers",
        "xlsx",
        2,
    )


# --- every role --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "marketer", "steward", "superuser"])
def test_every_role_exports_for_a_purpose_and_is_recorded(staff, segment, role):
    client = staff(role)
    url = reverse("admin:segments_segment_export", args=[segment.pk])
    response = client.post(url, {"purpose": "email_marketing", "file_format": "csv"})
    assert response.status_code == 200
    emails = _emails(response)
    if role == "viewer":
        assert emails == sorted(
            mask_email(e) for e in ("jose.nunez@example.es", "zoe.muller@example.de")
        )
    else:
        assert emails == ["jose.nunez@example.es", "zoe.muller@example.de"]
    record = ExportRecord.objects.get()
    assert (record.actor, record.masked) == (f"user:{role}", role == "viewer")


@pytest.mark.parametrize(
    ("role", "sees_log"),
    [("viewer", False), ("marketer", True), ("steward", True), ("superuser", True)],
)
def test_the_export_log_is_read_only_and_hidden_from_viewers(staff, segment, role, sees_log):
    admin = Client()
    admin.force_login(_superuser())
    admin.post(
        reverse("admin:segments_segment_export", args=[segment.pk]),
        {"purpose": "email_marketing", "file_format": "csv"},
    )
    record = ExportRecord.objects.get()
    client = staff(role)
    listing = client.get(reverse("admin:sources_exportrecord_changelist"))
    assert listing.status_code == (200 if sees_log else 403)
    change = client.post(
        reverse("admin:sources_exportrecord_change", args=[record.pk]), {"rows": "0"}
    )
    assert change.status_code == 403
    assert ExportRecord.objects.get().rows == 2


def _superuser():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("log-root", password="pw-123456789")


# --- REST ----------------------------------------------------------------------------------


def _api(*scopes, name="mailing-tool"):
    _key, secret = create_api_key(name=name, scopes=list(scopes))
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_rest_export_needs_a_purpose(people):
    response = _api("profiles:read").post(
        "/api/v1/exports/customers/", {"file_format": "csv"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"]
    assert not ExportRecord.objects.exists()


@pytest.mark.parametrize("purpose", ["telepathy", "", None, 7, ["email_marketing"]])
def test_rest_export_refuses_an_unknown_purpose(people, purpose):
    response = _api("profiles:read").post(
        "/api/v1/exports/customers/",
        {"purpose": purpose, "file_format": "csv"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert set(response.json()) >= {"code", "message"}


def test_rest_customer_export_filters_by_purpose_and_records_the_key(people):
    response = _api("profiles:read").post(
        "/api/v1/exports/customers/",
        {"purpose": "email_marketing", "file_format": "csv"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert _emails(response) == ["jose.nunez@example.es", "zoe.muller@example.de"]
    record = ExportRecord.objects.get()
    assert (record.actor, record.purpose.code, record.what) == (
        "api_key:mailing-tool",
        "email_marketing",
        "customers",
    )


def test_rest_segment_members_export(segment):
    response = _api("segments:read", "profiles:read").post(
        "/api/v1/exports/segment-members/",
        {"purpose": "email_marketing", "segment": segment.pk},
        content_type="application/json",
    )
    assert _emails(response) == ["jose.nunez@example.es", "zoe.muller@example.de"]
    assert ExportRecord.objects.get().what == "segment_members"


def test_rest_event_export_writes_only_events_of_allowed_people(people, source):
    from customers.models import Event

    for customer in people.values():
        Event.objects.create(
            customer=customer,
            source=source,
            type="track",
            name="Newsletter Opened",
            timestamp=AT,
            received_at=AT,
            message_id=f"m-{customer.pk}",
        )
    response = _api("events:read").post(
        "/api/v1/exports/events/",
        {"purpose": "email_marketing", "file_format": "csv"},
        content_type="application/json",
    )
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    allowed = {str(people[e].pk) for e in ("jose.nunez@example.es", "zoe.muller@example.de")}
    assert {row[4] for row in rows} == allowed
    assert ExportRecord.objects.get().rows == 2


@pytest.mark.parametrize(
    ("path", "scopes"),
    [
        ("customers", ["events:read"]),
        ("events", ["profiles:read"]),
        ("segment-members", ["profiles:read"]),
    ],
)
def test_rest_export_needs_its_scope(segment, path, scopes):
    response = _api(*scopes).post(
        f"/api/v1/exports/{path}/",
        {"purpose": "email_marketing", "segment": segment.pk},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "missing_scope"
    assert not ExportRecord.objects.exists()


@pytest.mark.parametrize("role", ["viewer", "marketer", "steward"])
def test_rest_export_by_a_signed_in_person_follows_their_role(staff, segment, role):
    client = staff(role)
    response = client.post(
        "/api/v1/exports/segment-members/",
        {"purpose": "email_marketing", "segment": segment.pk},
        content_type="application/json",
    )
    assert response.status_code == 200
    emails = _emails(response)
    assert ("zoe.muller@example.de" in emails) is (role != "viewer")
    assert len(emails) == 2
    assert ExportRecord.objects.get().actor == f"user:{role}"
