"""Consent arriving by each way in: tracking API context, file import, REST, admin."""

import pytest
from django.core.management import CommandError, call_command

from consent.models import ConsentRecord, ConsentState
from customers.models import Identity
from sources.pipeline import process_message

from .helpers import message


def _states(customer):
    return dict(
        ConsentState.objects.filter(customer=customer).values_list("purpose__code", "state")
    )


def test_tracking_category_preferences_map_to_purposes_with_proof(source):
    context = {
        "ip": "203.0.113.5",
        "userAgent": "Banner/2.0",
        "consent": {"categoryPreferences": {"Targeting": True, "Performance": False, "Ads": True}},
    }
    result = process_message(
        message(source, type="track", event="Viewed", user_id="u1", context=context)
    )
    assert _states(result.customer) == {"advertising": "granted", "analytics": "denied"}
    record = ConsentRecord.objects.get(purpose__code="advertising")
    assert (record.method, record.ip_address, record.user_agent, record.source_id) == (
        "tracking",
        "203.0.113.5",
        "Banner/2.0",
        source.pk,
    )
    assert record.actor == f"source:{source.pk}"


def test_repeated_preferences_record_only_changes(source):
    prefs = {"consent": {"categoryPreferences": {"targeting": True}}}
    for _ in range(3):
        process_message(message(source, type="page", user_id="u1", context=prefs))
    withdraw = {"consent": {"categoryPreferences": {"Targeting": False}}}
    result = process_message(message(source, type="page", user_id="u1", context=withdraw))
    assert list(
        ConsentRecord.objects.order_by("occurred_at", "id").values_list("state", flat=True)
    ) == ["granted", "withdrawn"]
    assert _states(result.customer) == {"advertising": "withdrawn"}


def test_import_consent_columns_record_consent_by_import(db, tmp_path):
    path = tmp_path / "newsletter.csv"
    path.write_text("email,Newsletter,SMS ok\nann@example.com,yes,no\nbob@example.com,maybe,\n")
    out = _import(
        str(path),
        "--map",
        "Newsletter=consent.email_marketing",
        "--map",
        "SMS ok=consent.sms_marketing",
    )
    ann = Identity.objects.get(value="ann@example.com").customer
    assert _states(ann) == {"email_marketing": "granted", "sms_marketing": "denied"}
    assert set(ConsentRecord.objects.values_list("method", flat=True)) == {"import"}
    assert "'maybe' is not yes or no" in out
    bob = Identity.objects.get(value="bob@example.com").customer
    assert _states(bob) == {}


def test_import_mapping_to_an_unknown_purpose_is_refused(db, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("email,Telepathy\nann@example.com,yes\n")
    with pytest.raises(CommandError, match="purposes:"):
        _import(str(path), "--map", "Telepathy=consent.telepathy")


def _import(*args):
    from io import StringIO

    out = StringIO()
    call_command("import_customers", *args, stdout=out)
    return out.getvalue()


def test_admin_records_consent_with_method_admin_and_the_user(admin_client, customer):
    response = admin_client.post(
        "/admin/consent/consentrecord/add/",
        {
            "customer": customer.pk,
            "purpose": _purpose_id("sms_marketing"),
            "state": "granted",
            "occurred_at_0": "2026-11-20",
            "occurred_at_1": "10:00:00",
            "wording": "Texts about offers",
            "wording_version": "paper-v1",
        },
        HTTP_USER_AGENT="AdminBrowser",
    )
    assert response.status_code == 302, response.content
    record = ConsentRecord.objects.get()
    assert (record.method, record.actor, record.wording_version, record.user_agent) == (
        "admin",
        "user:boss",
        "paper-v1",
        "AdminBrowser",
    )
    assert _states(customer) == {"sms_marketing": "granted"}


def test_admin_cannot_edit_a_consent_record(admin_client, customer):
    from consent.services.consent import record_consent

    record = record_consent(customer=customer, purpose="analytics", state="denied", method="api")
    response = admin_client.post(
        f"/admin/consent/consentrecord/{record.pk}/change/", {"state": "granted"}
    )
    assert response.status_code == 403
    assert ConsentRecord.objects.get().state == "denied"


def _purpose_id(code):
    from consent.models import Purpose

    return Purpose.objects.get(code=code).pk
