import re

import pytest

from customers.models import Customer
from segments.models import Segment, SegmentMembership
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


@pytest.fixture
def people(e2e_db):
    for index, (country, plan) in enumerate([("DE", "pro"), ("DE", "free"), ("FR", "pro")]):
        Customer.objects.create(first_name=f"P{index}", country=country, traits={"plan": plan})


def test_marketer_builds_a_segment_and_sees_its_count(login, people):
    page = login("marketer")
    page.goto("/admin/segments/segment/add/")
    page.fill("#id_name", "German pros")

    page.click(".rb-add-condition")
    page.locator(".rb-condition .rb-field").select_option("country")
    page.locator(".rb-condition .rb-value").fill("de")
    page.click(".rb-add-condition")
    second = page.locator(".rb-condition").nth(1)
    second.locator(".rb-kind").select_option("trait")
    second = page.locator(".rb-condition").nth(1)
    second.locator(".rb-trait").fill("plan")
    second.locator(".rb-value").fill("PRO")

    page.wait_for_function(
        "document.querySelector('.rb-count-number')?.textContent === '1'", timeout=10_000
    )
    # each condition's own count, and what is left after it (why a segment is small)
    steps = page.locator(".rb-step")
    assert steps.count() == 2
    assert steps.nth(0).text_content() == "2 match this alone · 2 left after this"
    assert steps.nth(1).text_content() == "2 match this alone · 1 left after this"
    screenshot(page, "segment-builder")
    page.click("[name=_save]")  # the theme's button
    page.wait_for_url(re.compile(r".*/admin/segments/segment/$"))

    segment = Segment.objects.get(name="German pros")
    assert segment.rule == {
        "all": [
            {"field": "country", "op": "eq", "value": "de"},
            {"trait": "plan", "op": "eq", "value": "PRO"},
        ]
    }
    assert SegmentMembership.objects.filter(segment=segment).count() == 1


@pytest.mark.postgres_only
def test_a_big_table_shows_an_estimate_with_its_margin(login, e2e_db, monkeypatch):
    """Beyond ``EXACT_UP_TO`` profiles the builder says "about N ± M" and how
    many profiles it sampled (thresholds lowered: 600 profiles count as big;
    the Germans created together, so the runs of ids disagree and the margin
    is not zero)."""
    from django.db import connection

    from core.db import sampling

    monkeypatch.setattr(sampling, "EXACT_UP_TO", 100)
    monkeypatch.setattr(sampling, "SAMPLE_ROWS", 300)
    Customer.objects.bulk_create(
        Customer(first_name=f"P{i}", country="DE" if i < 300 else "FR") for i in range(600)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")
    page = login("marketer")
    page.goto("/admin/segments/segment/add/")
    page.click(".rb-add-condition")
    page.locator(".rb-condition .rb-field").select_option("country")
    page.locator(".rb-condition .rb-value").fill("de")
    page.wait_for_function(
        "document.querySelector('.rb-count-number')?.textContent.startsWith('about ')",
        timeout=10_000,
    )
    count = page.locator(".rb-count-number").text_content()
    assert re.fullmatch(r"about [\d,]+ ± [\d,]+", count)
    assert "sampled profiles" in page.locator(".rb-estimate-note").text_content()
    screenshot(page, "segment-builder-estimate")
