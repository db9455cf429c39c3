"""A marketer's day in the back office (issue 26), in the browser: find people
by a piece of their name with typeahead, read the customer page, and every
main page free of serious accessibility problems (axe-core)."""

from datetime import UTC, date, datetime

import pytest

from accounts.masking import mask_email
from customers.models import Customer, Event
from sources.demo.generate import seed_demo
from sources.models import Source
from tests.e2e.conftest import screenshot, serious_violations

pytestmark = pytest.mark.e2e


@pytest.fixture
def sofia(e2e_db):
    seed_demo(customers=30, seed=11, anchor=date(2026, 6, 1))
    source = Source.objects.first()
    person = Customer.objects.create(
        first_name="Sofía",
        last_name="Rossi",
        email="sofia.rossi@example.it",
        city="Milano",
        is_identified=True,
    )
    Customer.objects.create(first_name="Rossella", last_name="Bianchi", city="Roma")
    Event.objects.create(
        customer=person,
        source=source,
        type="track",
        name="Order Completed",
        properties={"revenue": 89.9, "order_id": "A-1001", "currency": "EUR"},
        timestamp=datetime(2026, 5, 30, 10, 0, tzinfo=UTC),
        message_id="journey-1",
    )
    return person


def test_marketer_finds_sofia_by_a_piece_of_her_name_and_reads_her_page(login, sofia):
    page = login("marketer")
    page.fill("#tributary-search-q", "sofia ross")  # no accent typed, surname cut short
    suggestion = page.locator("#tributary-suggestions a").first
    suggestion.wait_for()
    assert "Sofía Rossi" in suggestion.inner_text()
    screenshot(page, "search-suggestions")
    suggestion.click()
    page.wait_for_url(f"**/admin/customers/customer/{sofia.pk}/change/")
    header = page.locator("#bo-header").inner_text()
    assert "Sofía Rossi" in header
    assert "89.90" in page.locator("#bo-ltv").inner_text()
    assert page.locator("input[name=first_name]").count() == 0  # reads first
    page.locator("#bo-timeline summary").first.click()
    assert "A-1001" in page.locator("#bo-timeline .bo-props").first.inner_text()
    screenshot(page, "customer-page-read-first")


def test_search_results_list_every_partial_match(login, sofia):
    page = login("marketer")
    page.fill("#tributary-search-q", "ross")
    page.press("#tributary-search-q", "Enter")
    page.wait_for_selector("#customer-search-results")
    names = page.locator("#customer-search-results tbody td:first-child").all_inner_texts()
    assert {"Sofía Rossi", "Rossella Bianchi"} <= set(names)
    screenshot(page, "search-results")


def test_a_viewer_reads_the_customer_page_masked(login, sofia):
    page = login("viewer")
    page.goto(f"/admin/customers/customer/{sofia.pk}/change/")
    text = page.locator("#content").inner_text()
    assert sofia.email not in text
    assert mask_email(sofia.email) in text
    assert page.locator("#bo-edit").count() == 0
    screenshot(page, "customer-page-viewer")


MAIN_PAGES = {
    "dashboard": "/admin/",
    "customer-list": "/admin/customers/customer/",
    "events-list": "/admin/customers/event/",
    "segments": "/admin/segments/segment/",
    "segment-builder": "/admin/segments/segment/add/",
    "imports": "/admin/sources/importjob/",
    "import-upload": "/admin/sources/importjob/add/",
}


def test_main_pages_have_no_serious_accessibility_problems(login, sofia, axe_script):
    page = login("marketer")
    pages = {**MAIN_PAGES, "customer-page": f"/admin/customers/customer/{sofia.pk}/change/"}
    problems = {}
    for name, url in pages.items():
        response = page.goto(url)
        assert response.status == 200, url
        if name == "segment-builder":  # the generated controls, with conditions in place
            page.click(".rb-add-condition")
            page.click(".rb-add-condition")
            page.locator(".rb-condition .rb-kind").nth(1).select_option("event")
        screenshot(page, name)
        found = serious_violations(page, axe_script)
        if found:
            problems[name] = found
    assert not problems, "\n".join(f"{name}: {line}" for name, v in problems.items() for line in v)


def test_a_steward_picks_the_customer_by_name_to_record_consent(login, sofia, axe_script):
    from consent.models import ConsentRecord

    page = login("steward")
    page.goto("/admin/consent/consentrecord/add/")
    page.locator("#id_customer + .select2 .select2-selection").click()
    page.locator(".select2-search__field").fill("sofia ross")
    option = page.locator(".select2-results__option", has_text="Sofía Rossi")
    option.wait_for()
    screenshot(page, "customer-picker")
    option.click()
    page.select_option("#id_purpose", label="Email marketing")
    page.select_option("#id_state", "granted")
    assert not serious_violations(page, axe_script)
    page.click("[name=_save]")
    page.wait_for_url("**/admin/consent/consentrecord/")
    assert ConsentRecord.objects.get(customer=sofia).state == "granted"
    # the customer page with every action a steward has, the merge picker among them
    page.goto(f"/admin/customers/customer/{sofia.pk}/change/")
    assert page.locator("#bo-merge-with .select2").count() == 1
    page.get_by_role("combobox", name="The other profile:").wait_for()  # named by pickers.js
    screenshot(page, "customer-page-steward")
    assert not serious_violations(page, axe_script)
