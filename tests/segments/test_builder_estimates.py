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
    assert 1100 <= answer["sampled_profiles"] <= 1300  # about 1,200 of 3,000
    germany, bought = answer["steps"]
    assert germany["alone"] == pytest.approx(1000, rel=0.2)
    assert bought["alone"] == pytest.approx(500, rel=0.2)
    assert answer["count"] == bought["running"] == pytest.approx(500, rel=0.2)
    assert answer["fewer_than"] is None
    # every tenth-or-so id matches, so each run of ten ids holds one or two: a narrow margin
    assert 0 < answer["margin"] < 0.05 * 3000
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
    assert answer["fewer_than"] == pytest.approx(3 * 3000 / answer["sampled_profiles"], rel=0.1)


@pytest.mark.postgres_only
def test_the_sample_is_a_fraction_of_the_table(shop, big):
    sampled = sampling.row_sample(Customer)
    assert sampled is not None
    assert 0 < sampled.rows < len(shop)
    assert Customer.objects.filter(pk__in=sampled.ids()).count() == sampled.rows


@pytest.mark.postgres_only
def test_rows_updated_together_are_not_sampled_together(shop, big):
    """Ids, not pages: the 250 profiles updated last (moved to new pages of
    their own) are in the sample as often as any others."""
    from django.db.models import F

    Customer.objects.filter(pk__in=[p.pk for p in shop[::12]]).update(version=F("version") + 1)
    sampled = sampling.row_sample(Customer)
    updated = set(Customer.objects.filter(version__gt=1).values_list("pk", flat=True))
    assert len(updated) == 250
    assert sampled.scale(len(updated & set(sampled.pks))) == pytest.approx(250, rel=0.3)


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


@pytest.mark.postgres_only
def test_a_consent_condition_reads_the_sampled_profiles_consent_only(shop, big):
    """ "…and may be emailed": granted by every twelfth profile (250)."""
    from consent.services.consent import record_consent

    for person in shop[::12]:
        record_consent(customer=person, purpose="email_marketing", state="granted", method="api")
    rule = {"all": [GERMANY, {"consent": "email_marketing"}]}
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        answer = preview(rule=rule)
    assert answer["steps"][1]["alone"] == pytest.approx(250, rel=0.3)
    assert answer["count"] == pytest.approx(250, rel=0.3)  # every twelfth is a German too
    counted = [q["sql"] for q in queries.captured_queries if "consent_consentstate" in q["sql"]]
    assert counted
    assert all(sql.count("unnest(") >= 2 for sql in counted)


@pytest.mark.postgres_only
def test_a_block_of_neighbours_widens_the_margin_honestly(shop, big):
    """Profiles created together (one import: 300 consecutive ids) fall in
    whole runs: the margin, computed from the runs, is wide and covers the truth."""
    block = [p.pk for p in shop[1000:1300]]
    Customer.objects.filter(pk__in=block).update(country="JP")
    answer = preview(rule={"all": [{"field": "country", "op": "eq", "value": "Japan"}, GERMANY]})
    japan = answer["steps"][0]
    assert answer["margin"] == 0  # nobody is in both
    only_japan = preview(rule={"field": "country", "op": "eq", "value": "Japan"})
    assert only_japan["count"] == japan["alone"]
    assert only_japan["margin"] >= 0.2 * 300
    assert abs(only_japan["count"] - 300) <= only_japan["margin"]
