from datetime import date

import pytest
from django.utils import timezone

from accounts.masking import mask_email
from customers.models import Customer
from sources.demo.generate import seed_demo
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


@pytest.fixture
def demo(e2e_db):
    seed_demo(customers=40, seed=5, anchor=date(2026, 6, 1))


def _sidebar_models(page) -> set[str]:
    """The models listed on the admin home (not the apps' captions)."""
    return {t.strip() for t in page.locator("#content-main th[scope=row] a").all_inner_texts()}


def test_steward_sees_identity_rules_and_sources(login):
    page = login("steward")
    models = _sidebar_models(page)
    assert {"Identifier types", "Sources", "Customers"} <= models


def test_marketer_sees_customers_but_not_identity_rules_or_sources(login):
    page = login("marketer")
    models = _sidebar_models(page)
    assert "Customers" in models
    assert "Identifier types" not in models
    assert "Sources" not in models
    response = page.goto("/admin/customers/source/")
    assert response.status == 403


def test_viewer_opens_customer_read_only(login, demo):
    customer = Customer.objects.filter(is_identified=True).exclude(email="").first()
    page = login("viewer")
    page.goto(f"/admin/customers/customer/{customer.pk}/change/")
    assert page.locator("[name=_save]").count() == 0
    assert page.locator("input#id_first_name").count() == 0
    screenshot(page, "viewer-customer")


def _person_with_email_and_events():
    return (
        Customer.objects.filter(is_identified=True, first_name__gt="", events__isnull=False)
        .exclude(email="")
        .distinct()
        .first()
    )


def test_marketer_finds_a_customer_by_email_and_reads_the_360_page(login, demo):
    customer = _person_with_email_and_events()
    page = login("marketer")
    page.fill("#tributary-search-q", customer.email.upper())
    page.press("#tributary-search-q", "Enter")
    page.wait_for_url(f"**/admin/customers/customer/{customer.pk}/change/")
    assert customer.email not in page.url
    assert page.locator("#customer-360").is_visible()
    assert customer.email in page.locator("#content").inner_text()
    page.click("#bo-timeline a:text-is('track')")
    page.wait_for_url("**event_type=track")
    types = page.locator("#bo-timeline .bo-type").all_inner_texts()
    assert types
    assert set(types) == {"track"}
    screenshot(page, "customer-360")


def test_viewer_finds_by_user_id_and_sees_the_360_page_with_masked_email(login, demo):
    customer = _person_with_email_and_events()
    user_id = customer.identities.get(type__name="user_id").value
    page = login("viewer")
    page.fill("#tributary-search-q", f"user_id:{user_id}")  # typed: not a phone number
    page.press("#tributary-search-q", "Enter")
    page.wait_for_url(f"**/admin/customers/customer/{customer.pk}/change/")
    text = page.locator("#content").inner_text()
    assert customer.email not in text
    assert mask_email(customer.email) in text


def test_viewer_searching_by_email_is_told_why_not(login, demo):
    customer = _person_with_email_and_events()
    page = login("viewer")
    page.fill("#tributary-search-q", customer.email)
    page.press("#tributary-search-q", "Enter")
    page.wait_for_selector("#refusal")
    assert "may not search by email address or phone number" in page.inner_text("#refusal")
    assert customer.email not in page.content()


def test_dashboard_shows_figures_and_charts(login, e2e_db):
    seed_demo(customers=60, seed=7, anchor=timezone.localdate())
    page = login("marketer")
    assert page.locator("#dashboard").is_visible()
    assert page.locator("#bo-profiles .bo-figure").inner_text() == str(
        Customer.objects.active().count()
    )
    assert page.locator("svg.bo-chart").count() == 3
    screenshot(page, "dashboard")
