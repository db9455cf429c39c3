from datetime import timedelta

import pytest
from django.utils import timezone

from consent.models import ConsentRecord, ConsentState, Purpose
from consent.services.consent import UnknownPurpose, carry_over_consent, record_consent
from customers.models import Customer


def test_purposes_are_seeded_with_legal_basis_and_tracking_categories(db):
    purposes = {p.code: p for p in Purpose.objects.all()}
    assert set(purposes) == {
        "email_marketing",
        "sms_marketing",
        "personalization",
        "analytics",
        "advertising",
        "third_party_sharing",
    }
    assert purposes["analytics"].legal_basis == "legitimate_interest"
    assert purposes["advertising"].legal_basis == "consent"
    assert "Targeting" in purposes["advertising"].tracking_categories


def test_record_consent_stores_proof_and_sets_current_state(customer, source):
    at = timezone.now()
    record = record_consent(
        customer=customer,
        purpose="email_marketing",
        state="granted",
        method="web_form",
        occurred_at=at,
        source_id=source.pk,
        ip_address="203.0.113.9",
        user_agent="Mozilla/5.0",
        wording="Send me news",
        wording_version="v3",
    )
    record.refresh_from_db()
    assert (record.ip_address, record.user_agent, record.wording, record.wording_version) == (
        "203.0.113.9",
        "Mozilla/5.0",
        "Send me news",
        "v3",
    )
    assert record.actor == "system"
    state = ConsentState.objects.get(customer=customer, purpose__code="email_marketing")
    assert (state.state, state.record_id, state.occurred_at) == ("granted", record.pk, at)


def test_latest_record_wins_and_history_is_kept(customer):
    now = timezone.now()
    record_consent(
        customer=customer,
        purpose="sms_marketing",
        state="granted",
        method="api",
        occurred_at=now - timedelta(days=2),
    )
    record_consent(
        customer=customer, purpose="sms_marketing", state="withdrawn", method="api", occurred_at=now
    )
    assert ConsentState.objects.get(customer=customer, purpose__code="sms_marketing").state == (
        "withdrawn"
    )
    assert ConsentRecord.objects.filter(customer=customer).count() == 2


def test_older_record_arriving_late_does_not_change_current_state(customer):
    now = timezone.now()
    record_consent(
        customer=customer, purpose="sms_marketing", state="withdrawn", method="api", occurred_at=now
    )
    record_consent(
        customer=customer,
        purpose="sms_marketing",
        state="granted",
        method="import",
        occurred_at=now - timedelta(days=5),
    )
    assert ConsentState.objects.get(customer=customer, purpose__code="sms_marketing").state == (
        "withdrawn"
    )


def test_unknown_purpose_code_is_rejected(customer):
    with pytest.raises(UnknownPurpose):
        record_consent(customer=customer, purpose="telepathy", state="granted", method="api")


def test_merge_through_the_pipeline_gives_the_survivor_the_newest_consent(source):
    from sources.pipeline import process_message

    from .helpers import message

    now = timezone.now()
    ann = process_message(message(source, user_id="u-ann")).customer
    anon = process_message(message(source, type="page", anonymous_id="a-1")).customer
    record_consent(
        customer=ann,
        purpose="advertising",
        state="granted",
        method="api",
        occurred_at=now - timedelta(days=3),
    )
    record_consent(
        customer=anon,
        purpose="advertising",
        state="withdrawn",
        method="tracking",
        occurred_at=now - timedelta(days=1),
    )

    merged = process_message(message(source, user_id="u-ann", anonymous_id="a-1")).customer

    assert Customer.objects.active().count() == 1
    assert ConsentRecord.objects.filter(customer=merged).count() == 2
    assert ConsentState.objects.get(customer=merged, purpose__code="advertising").state == (
        "withdrawn"
    )


def test_merge_carries_consent_history_to_survivor(customer, other_customer):
    now = timezone.now()
    record_consent(
        customer=customer,
        purpose="advertising",
        state="denied",
        method="api",
        occurred_at=now - timedelta(days=1),
    )
    record_consent(
        customer=other_customer,
        purpose="advertising",
        state="granted",
        method="web_form",
        occurred_at=now,
    )
    Customer.objects.filter(pk=other_customer.pk).update(merged_into=customer)

    moved = carry_over_consent(survivor=customer, absorbed_ids=[other_customer.pk])

    assert moved == 1
    assert ConsentRecord.objects.filter(customer=customer).count() == 2
    assert ConsentState.objects.get(customer=customer, purpose__code="advertising").state == (
        "granted"
    )
