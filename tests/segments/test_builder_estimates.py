"""The builder's preview on a big profile table (issue 26): counted from a
fixed sample of the table's pages and said to be estimated, never a
million-profile scan per keystroke; small tables are counted exactly."""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from core.db import sampling
from customers.models import Customer, Event
from segments.previews import preview

GERMANY = {"field": "country", "op": "eq", "value": "Germany"}
BOUGHT_TWICE = {"event": "Order Completed", "count": {"at_least": 2}, "within_days": 365}
RULE = {"all": [GERMANY, BOUGHT_TWICE]}
NOBODY = {"field": "country", "op": "eq", "value": "Japan"}


@pytest.fixture
def shop(db, source):
    """3,000 profiles: every third in Germany, every second German with two orders."""
    people = Customer.objects.bulk_create(
        Customer(first_name=f"P{i}", country="DE" if i % 3 == 0 else "FR") for i in range(3000)
    )
    now = timezone.now()
    Event.objects.bulk_create(
        Event(
            customer=person,
            source=source,
            type="track",
            name="Order Completed",
            timestamp=now - timedelta(days=day),
            message_id=f"order-{person.pk}-{day}",
        )
        for index, person in enumerate(people)
        if index % 6 == 0
        for day in (3, 40)
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE customers_customer")
    return people


@pytest.fixture
def big(monkeypatch):
    """1,000 profiles count as a big table; a sample of about 1,200 rows."""
    monkeypatch.setattr(sampling, "EXACT_UP_TO", 1000)
    monkeypatch.setattr(sampling, "SAMPLE_ROWS", 1200)


def test_a_small_table_is_counted_exactly(shop):
    answer = preview(rule=RULE)
    assert answer["estimated"] is False
    assert answer["count"] == 500
    assert [(s["alone"], s["running"]) for s in answer["steps"]] == [(1000, 1000), (500, 500)]


@pytest.mark.postgres_only
def test_a_big_table_is_estimated_from_a_sample_and_says_so(shop, big):
    answer = preview(rule=RULE)
    assert answer["estimated"] is True
    assert 600 <= answer["sampled_profiles"] <= 2000  # about 40 % of the pages
    germany, bought = answer["steps"]
    assert germany["alone"] == pytest.approx(1000, rel=0.2)
    assert bought["alone"] == pytest.approx(500, rel=0.2)
    assert answer["count"] == bought["running"] == pytest.approx(500, rel=0.2)
    assert answer["fewer_than"] is None
    # a 95 % margin: a sixth of 1,200-odd sampled profiles is about ±2 percentage points
    assert 0.01 * 3000 < answer["margin"] < 0.05 * 3000
    assert abs(answer["count"] - 500) <= 2 * answer["margin"]
    # the sample shows matching people only
    matching = {p.pk for i, p in enumerate(shop) if i % 6 == 0}
    assert answer["sample"]
    assert {row["id"] for row in answer["sample"]} <= matching


@pytest.mark.postgres_only
def test_the_same_sample_answers_every_question(shop, big):
    """A fixed seed: editing a rule does not move the counts by chance."""
    first, again = preview(rule=RULE), preview(rule=RULE)
    assert (first["count"], first["steps"]) == (again["count"], again["steps"])
    assert preview(rule=GERMANY)["count"] == preview(rule=RULE)["steps"][0]["alone"]


@pytest.mark.postgres_only
def test_a_rule_no_sampled_profile_matches_is_fewer_than_one_sampled_profile(shop, big):
    answer = preview(rule={"all": [GERMANY, NOBODY]})
    assert answer["count"] == 0
    # none seen among n sampled: fewer than 3 in n with 95 % confidence ("rule of three")
    assert answer["fewer_than"] == pytest.approx(3 * 3000 / answer["sampled_profiles"], abs=1)


@pytest.mark.postgres_only
def test_the_sample_is_a_fraction_of_the_table(shop, big):
    pages = sampling.page_sample(Customer)
    assert pages is not None
    assert 0 < pages.rows < len(shop)
    assert Customer.objects.filter(pk__in=pages.ids()).count() == pages.rows


@pytest.mark.postgres_only
def test_the_event_subqueries_read_the_sampled_profiles_only(shop, big):
    """One query for every count and the sample, whose event subquery is
    narrowed to the sampled ids (not a pass over every order event)."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        preview(rule=RULE)
    evaluated = [q["sql"] for q in queries.captured_queries if "customers_event" in q["sql"]]
    assert len(evaluated) == 1
    assert evaluated[0].count("unnest(") >= 2  # the profiles and their events


@pytest.mark.postgres_only
def test_a_rule_longer_than_the_steps_is_still_estimated_whole(shop, big, monkeypatch):
    from segments import previews

    monkeypatch.setattr(previews, "MAX_STEPS", 1)
    answer = preview(rule=RULE)
    assert len(answer["steps"]) == 1
    assert answer["count"] == pytest.approx(500, rel=0.2)


@pytest.mark.postgres_only
def test_the_admin_preview_marks_an_estimate(shop, big, admin_client):
    body = admin_client.post(
        reverse("admin:segments_builder_preview"), {"rule": RULE}, content_type="application/json"
    ).json()
    assert body["estimated"] is True
    assert body["sampled_profiles"] > 0
