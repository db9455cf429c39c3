import pytest
from django.utils import timezone

from consent.models import Purpose
from consent.selectors import allowed_q, consent_overview, customers_allowed_for, is_allowed
from consent.services.consent import record_consent
from customers.models import Identity


def _record(customer, purpose, state):
    return record_consent(
        customer=customer, purpose=purpose, state=state, method="api", occurred_at=timezone.now()
    )


def test_consent_basis_includes_only_customers_who_granted(customer, other_customer):
    _record(customer, "email_marketing", "granted")
    assert list(customers_allowed_for("email_marketing")) == [customer]
    assert is_allowed(customer, "email_marketing") is True
    assert is_allowed(other_customer, "email_marketing") is False


@pytest.mark.parametrize("state", ["denied", "withdrawn"])
def test_consent_basis_excludes_denied_and_withdrawn(customer, state):
    _record(customer, "email_marketing", "granted")
    _record(customer, "email_marketing", state)
    assert list(customers_allowed_for("email_marketing")) == []


def test_legitimate_interest_includes_everyone_who_did_not_object(customer, other_customer):
    _record(other_customer, "analytics", "withdrawn")
    assert list(customers_allowed_for("analytics")) == [customer]
    assert is_allowed(customer, "analytics") is True
    assert is_allowed(other_customer, "analytics") is False


def test_inactive_purpose_allows_no_one(customer):
    _record(customer, "advertising", "granted")
    Purpose.objects.filter(code="advertising").update(is_active=False)
    advertising = Purpose.objects.get(code="advertising")
    assert list(customers_allowed_for(advertising)) == []
    assert is_allowed(customer, advertising) is False


def test_allowed_q_filters_a_related_model_through_a_prefix(customer, other_customer):
    _record(customer, "sms_marketing", "granted")
    identities = Identity.objects.filter(allowed_q("sms_marketing", prefix="customer__"))
    assert [i.value for i in identities] == ["ann@example.com"]


def test_consent_overview_lists_every_purpose_with_state_and_verdict(customer):
    _record(customer, "email_marketing", "granted")
    rows = {row.code: row for row in consent_overview(customer)}
    assert len(rows) == 6
    assert (rows["email_marketing"].state, rows["email_marketing"].allowed) == ("granted", True)
    assert (rows["sms_marketing"].state, rows["sms_marketing"].allowed) == (None, False)
    assert (rows["analytics"].state, rows["analytics"].allowed) == (None, True)
