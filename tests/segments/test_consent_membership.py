"""Consent reaches `{"consent": ...}` segments in the transaction that records it,
by every way in (tracking API banner, file import, REST, admin), with no recompute.

Segments are saved inside the test transaction, so their scheduled recompute
(an on-commit task) never runs: membership can only move through the live path.
"""

import base64
import json
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from accounts.services.api_keys import create_api_key
from consent.models import Purpose
from consent.services.consent import carry_over_consent, record_consent
from core.outbox import OutboxEntry
from customers.models import Customer, Identity
from customers.services.identity import resolve_identity
from segments.models import Segment, SegmentMembership
from segments.services import save_segment
from sources.imports.jobs import create_import_job, set_mapping
from sources.imports.runner import run_import
from sources.services.keys import create_source

ZOE = "zoe.lefevre@example.fr"
SUBSCRIBED_HEADER = (
    "\ufeffEmail Address,First Name,Last Name,Address,Phone Number,Birthday,MEMBER_RATING,"
    "OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,"
    "CC,REGION,LAST_CHANGED,LEID,EUID,NOTES,TAGS"
)
UNSUBSCRIBED_HEADER = (
    "\ufeffEmail Address,First Name,Last Name,Address,Phone Number,Birthday,MEMBER_RATING,"
    "OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,"
    "CC,REGION,UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,UNSUB_REASON,"
    "UNSUB_REASON_OTHER,LEID,EUID,NOTES,TAGS"
)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def opt_in(db):
    return save_segment(name="Email opt-in", rule={"consent": "email_marketing"})


@pytest.fixture
def not_advertised(db):
    """A purpose on legitimate interest: everyone until they object."""
    Purpose.objects.filter(code="advertising").update(legal_basis="legitimate_interest")
    return save_segment(name="Ads audience", rule={"consent": "advertising"})


def _member(segment: Segment, customer_id: int) -> bool:
    return SegmentMembership.objects.filter(
        segment=segment, customer_id=customer_id, exited_at__isnull=True
    ).exists()


def _transitions(segment: Segment, customer_id: int) -> list[str]:
    return list(
        OutboxEntry.objects.filter(
            customer_id=customer_id,
            topic__in=["segment.entered", "segment.exited"],
            payload__segment_id=segment.pk,
        )
        .order_by("id")
        .values_list("topic", flat=True)
    )


def _zoe() -> int:
    return Identity.objects.get(type__name="email", value=ZOE).customer_id


# --- tracking API: context.consent.categoryPreferences ---------------------------------


def _track(client, key, message_id, preferences):
    token = base64.b64encode(f"{key}:".encode()).decode()
    body = {
        "type": "identify",
        "messageId": message_id,
        "userId": "crm-40417",
        "traits": {"email": ZOE, "firstName": "Zoë", "lastName": "Lefèvre"},
        "context": {
            "ip": "203.0.113.77",
            "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1)",
            "consent": {"categoryPreferences": preferences},
        },
    }
    response = client.post(
        "/v1/identify",
        json.dumps(body).encode(),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {token}",
    )
    assert response.json() == {"success": True}


def test_banner_grant_and_withdrawal_move_a_new_visitor_in_and_out(
    client, opt_in, django_capture_on_commit_callbacks
):
    _source, key = create_source(name="Web banner", kind="website")
    with django_capture_on_commit_callbacks(execute=True):
        _track(client, key, "m-grant", {"Email": True, "Performance": False})
    zoe = _zoe()
    assert _member(opt_in, zoe)
    with django_capture_on_commit_callbacks(execute=True):
        _track(client, key, "m-withdraw", {"Email": False})
    assert not _member(opt_in, zoe)
    assert _transitions(opt_in, zoe) == ["segment.entered", "segment.exited"]


def test_banner_objection_and_its_reversal_move_a_legitimate_interest_segment(
    client, not_advertised, django_capture_on_commit_callbacks
):
    _source, key = create_source(name="Web banner", kind="website")
    with django_capture_on_commit_callbacks(execute=True):
        _track(client, key, "m-1", {"Targeting": False})
    zoe = _zoe()
    assert not _member(not_advertised, zoe)
    with django_capture_on_commit_callbacks(execute=True):
        _track(client, key, "m-2", {"Targeting": True})
    assert _member(not_advertised, zoe)
    with django_capture_on_commit_callbacks(execute=True):
        _track(client, key, "m-3", {"Targeting": False})
    assert not _member(not_advertised, zoe)
    assert _transitions(not_advertised, zoe) == ["segment.entered", "segment.exited"]


# --- file import: Mailchimp audience exports -------------------------------------------


def _import(name: str, text: str):
    content = text.replace("\n", "\r\n").encode("utf-8")
    job = create_import_job(file=ContentFile(content), name=name, kind="customers")
    set_mapping(job=job, overrides={})
    return run_import(job_id=job.pk, dry_run=False)


def test_mailchimp_subscribed_then_unsubscribed_exports_move_the_person(opt_in):
    _import(
        "subscribed_members_export_5f1e.csv",
        f"{SUBSCRIBED_HEADER}\n{ZOE},Zoë,Lefèvre,,,,3,2025-03-02 09:14:00,192.0.2.10,"
        "2025-03-02 09:15:02,192.0.2.10,,,,,,FR,,2025-03-02 09:15:02,41127,9ac1e2,,\n",
    )
    zoe = _zoe()
    assert _member(opt_in, zoe)
    _import(
        "unsubscribed_members_export_5f1e.csv",
        f"{UNSUBSCRIBED_HEADER}\n{ZOE},Zoë,Lefèvre,,,,3,2025-03-02 09:14:00,192.0.2.10,"
        "2025-03-02 09:15:02,192.0.2.10,,,,,,FR,,2026-01-11 18:02:40,Soldes d'hiver,"
        "c9d8e7,NORMAL,,41127,9ac1e2,,\n",
    )
    assert not _member(opt_in, zoe)
    assert _transitions(opt_in, zoe) == ["segment.entered", "segment.exited"]


def test_an_import_of_many_people_moves_each_of_them(opt_in):
    rows = [
        f"{email},{first},{last},,,,2,2025-05-0{i} 10:00:00,198.51.100.{i},,,,,,,,DE,,"
        f"2025-05-0{i} 10:00:00,5000{i},e{i},,"
        for i, (email, first, last) in enumerate(
            [
                ("jurgen.muller@example.de", "Jürgen", "Müller"),
                ("ines.nunez@example.es", "Inés", "Núñez"),
                ("bjorn.asgeirsson@example.is", "Björn", "Ásgeirsson"),
            ],
            start=1,
        )
    ]
    _import("subscribed_members_export_77aa.csv", "\n".join([SUBSCRIBED_HEADER, *rows]) + "\n")
    members = set(
        SegmentMembership.objects.filter(segment=opt_in, exited_at__isnull=True).values_list(
            "customer__email", flat=True
        )
    )
    assert members == {
        "jurgen.muller@example.de",
        "ines.nunez@example.es",
        "bjorn.asgeirsson@example.is",
    }


# --- REST API and admin ----------------------------------------------------------------


@pytest.fixture
def zoe(source):
    return resolve_identity(
        identifiers=[("email", ZOE)], source_id=source.pk, seen_at=timezone.now()
    ).customer


def test_rest_grant_and_withdrawal_move_the_person(zoe, opt_in):
    _key, secret = create_api_key(name="preference-centre", scopes=["consent:write"])
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    for state, member in (("granted", True), ("withdrawn", False)):
        response = api.post(
            f"/api/v1/profiles/email:{ZOE}/consent/",
            {"purpose": "email_marketing", "state": state, "method": "preference_centre"},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        assert _member(opt_in, zoe.pk) is member
    assert _transitions(opt_in, zoe.pk) == ["segment.entered", "segment.exited"]


def test_admin_grant_and_withdrawal_move_the_person(admin_client, zoe, opt_in):
    purpose = Purpose.objects.get(code="email_marketing")
    for day, state, member in (("2026-11-20", "granted", True), ("2026-11-21", "withdrawn", False)):
        response = admin_client.post(
            "/admin/consent/consentrecord/add/",
            {
                "customer": zoe.pk,
                "purpose": purpose.pk,
                "state": state,
                "occurred_at_0": day,
                "occurred_at_1": "10:00:00",
                "wording": "Lettre d'information mensuelle",
                "wording_version": "paper-v2",
            },
        )
        assert response.status_code == 302, response.content
        assert _member(opt_in, zoe.pk) is member
    assert _transitions(opt_in, zoe.pk) == ["segment.entered", "segment.exited"]


# --- the service rules behind every path ------------------------------------------------


def test_a_late_statement_that_does_not_move_the_state_moves_no_one(zoe, opt_in):
    now = timezone.now()
    record_consent(customer=zoe, purpose="email_marketing", state="granted", method="api")
    record_consent(
        customer=zoe,
        purpose="email_marketing",
        state="withdrawn",
        method="api",
        occurred_at=now - timedelta(days=30),
    )
    assert _member(opt_in, zoe.pk)
    assert _transitions(opt_in, zoe.pk) == ["segment.entered"]


def test_a_segment_combining_consent_and_a_trait_follows_both(zoe, source):
    both = save_segment(
        name="French opt-in",
        rule={
            "all": [{"consent": "email_marketing"}, {"field": "country", "op": "eq", "value": "FR"}]
        },
    )
    Customer.objects.filter(pk=zoe.pk).update(country="FR")
    record_consent(customer=zoe, purpose="email_marketing", state="granted", method="api")
    assert _member(both, zoe.pk)


def test_consent_carried_over_by_a_merge_reaches_segments(zoe, source, opt_in):
    other = resolve_identity(
        identifiers=[("email", "z.lefevre@example.fr")],
        source_id=source.pk,
        seen_at=timezone.now(),
    ).customer
    record_consent(customer=other, purpose="email_marketing", state="granted", method="api")
    Customer.objects.filter(pk=other.pk).update(merged_into=zoe)
    carry_over_consent(survivor=zoe, absorbed_ids=[other.pk])
    assert _member(opt_in, zoe.pk)
