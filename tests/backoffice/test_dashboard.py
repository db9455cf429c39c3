from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backoffice.dashboard import compute_figures
from backoffice.models import DailyStat
from backoffice.stats import fill_daily_stats
from consent.models import Purpose
from consent.services.consent import record_consent
from customers.models import Customer, Event
from segments.models import Segment

NOW = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def activity(source):
    """3 identified + 2 anonymous profiles; events today, 3 days ago and 10 days ago."""
    people = [
        Customer.objects.create(is_identified=i < 3, first_seen=NOW - timedelta(days=20 - i))
        for i in range(5)
    ]
    when = (
        [NOW - timedelta(hours=1)] * 4 + [NOW - timedelta(days=3)] * 2 + [NOW - timedelta(days=10)]
    )
    Event.objects.bulk_create(
        Event(
            customer=people[i % 5],
            source=source,
            type="track",
            name="Viewed",
            timestamp=t,
            received_at=t,
            message_id=f"m{i}",
        )
        for i, t in enumerate(when)
    )
    return people


def test_profiles_identified_and_anonymous(activity):
    figures = compute_figures(now=NOW)
    assert (figures["profiles"], figures["identified"], figures["anonymous"]) == (5, 3, 2)


def test_events_today_and_last_seven_days(activity):
    figures = compute_figures(now=NOW)
    assert (figures["events_today"], figures["events_week"]) == (4, 6)


def test_events_per_day_chart_data(activity):
    per_day = dict(compute_figures(now=NOW)["events_per_day"])
    assert per_day[NOW.date()] == 4
    assert per_day[(NOW - timedelta(days=3)).date()] == 2
    assert per_day[(NOW - timedelta(days=10)).date()] == 1
    assert sum(per_day.values()) == 7


def test_profiles_over_time_is_cumulative(activity):
    per_day = dict(compute_figures(now=NOW)["profiles_per_day"])
    assert per_day[(NOW - timedelta(days=20)).date()] == 1
    assert per_day[(NOW - timedelta(days=17)).date()] == 4
    assert per_day[NOW.date()] == 5


def test_source_volume_and_last_event(activity, source):
    row = next(s for s in compute_figures(now=NOW)["sources"] if s.name == source.name)
    assert (row.today, row.week) == (4, 6)
    assert row.last_event == NOW - timedelta(hours=1)


def test_source_last_event_from_daily_figures_when_quiet_today(activity, source):
    Event.objects.filter(timestamp__gte=NOW - timedelta(hours=2)).delete()
    row = next(s for s in compute_figures(now=NOW)["sources"] if s.name == source.name)
    assert row.last_event == NOW - timedelta(days=3)


def test_consent_rate_per_purpose(activity):
    for person in activity[:2]:
        record_consent(customer=person, purpose="email_marketing", state="granted", method="admin")
    record_consent(customer=activity[2], purpose="email_marketing", state="denied", method="admin")
    rows = {c.name: c for c in compute_figures(now=NOW)["consent"]}
    email = rows[Purpose.objects.get(code="email_marketing").name]
    assert (email.granted, email.denied, email.rate) == (2, 1, 40.0)


def test_largest_segments_first(db):
    Segment.objects.create(name="Small", kind="static", size=3)
    Segment.objects.create(name="Big", kind="static", size=30)
    assert compute_figures(now=NOW)["segments"][:2] == [("Big", 30), ("Small", 3)]


def test_closed_days_are_computed_once(activity):
    assert fill_daily_stats(today=NOW.date()) == 30
    assert fill_daily_stats(today=NOW.date()) == 0
    assert DailyStat.objects.get(day=(NOW - timedelta(days=3)).date(), metric="events").value == 2


def test_first_computation_writes_the_window_in_a_few_queries(
    activity, django_assert_max_num_queries
):
    with django_assert_max_num_queries(17):
        compute_figures(now=NOW)


def test_recomputing_after_the_window_is_written_takes_ten_queries(
    activity, django_assert_num_queries
):
    compute_figures(now=NOW)
    with django_assert_num_queries(10):
        compute_figures(now=NOW)


def test_warm_dashboard_reads_no_profiles_or_events(activity, admin_client):
    assert b'id="dashboard"' in admin_client.get(reverse("admin:index")).content
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(reverse("admin:index"))
    assert b'id="bo-events-today"' in response.content
    touched = " ".join(q["sql"] for q in queries.captured_queries)
    assert "customers_customer" not in touched
    assert "customers_event" not in touched
    assert len(queries.captured_queries) <= 4


def test_dashboard_draws_three_svg_charts(activity, admin_client):
    body = admin_client.get(reverse("admin:index")).content.decode()
    assert body.count('<svg class="bo-chart"') == 3
    assert "cdn" not in body.lower()


def test_rejected_values_of_the_last_seven_days(activity, source):
    from customers.services.normalize import Issue
    from customers.services.quality import record_issues

    issue = Issue(field="email", value="nope", code="invalid_email", message="not an email")
    record_issues(issues=[issue, issue], customer=activity[0], source_id=source.pk)
    rejected = compute_figures(now=timezone.now())["rejected"]
    assert rejected == {"import_rows": 0, "import_jobs_failed": 0, "quality_issues": 2}


# --- period, comparison, axis (issue 26) -------------------------------------


def test_the_period_is_compared_with_the_one_before(activity):
    from backoffice.dashboard import Period

    period = Period.last(7, today=NOW.date())
    compare = {c.label: c for c in compute_figures(now=NOW, period=period)["compare"]}
    # events: 4 today + 2 three days ago in the period, 1 ten days ago before it
    assert (compare["Events"].now, compare["Events"].before) == (6, 1)
    assert compare["Events"].change == 500.0
    # profiles first seen 20..16 days ago: none new in either week
    assert (compare["New profiles"].now, compare["New profiles"].before) == (0, 0)
    assert compare["New profiles"].change is None


def test_new_profiles_count_those_first_seen_in_the_period(activity):
    from backoffice.dashboard import Period

    period = Period(NOW.date() - timedelta(days=18), NOW.date() - timedelta(days=16))
    compare = {c.label: c for c in compute_figures(now=NOW, period=period)["compare"]}
    assert (compare["New profiles"].now, compare["New profiles"].before) == (3, 2)
    assert (compare["New identified profiles"].now, compare["New identified profiles"].before) == (
        1,
        2,
    )


def test_the_charts_cover_the_chosen_period(activity):
    from backoffice.dashboard import Period

    period = Period.last(7, today=NOW.date())
    figures = compute_figures(now=NOW, period=period)
    assert [d for d, _ in figures["events_per_day"]] == period.each_day()
    assert dict(figures["events_per_day"])[NOW.date()] == 4


@pytest.mark.parametrize(
    ("params", "days"),
    [({"days": "7"}, 7), ({"days": "90"}, 90), ({"start": "2026-11-01", "end": "2026-11-10"}, 10)],
)
def test_the_page_shows_the_chosen_period(activity, admin_client, params, days):
    with _today(NOW):
        response = admin_client.get(reverse("admin:index"), params)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="bo-compare"' in body
    assert f"vs previous {days} days" in body or f"previous {days} days:" in body


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"start": "yesterday", "end": "2026-11-10"}, "Enter a valid date."),
        ({"start": "2026-11-10", "end": "2026-11-01"}, "The period ends before it starts."),
        ({"start": "2026-11-10"}, "Give both dates of the period."),
        ({"start": "2025-01-01", "end": "2026-11-10"}, "A period is at most 366 days long."),
        ({"start": "2001-01-01", "end": "2001-01-02"}, "A period starts at most 732 days back."),
        ({"start": "2026-11-01", "end": "2099-01-01"}, "The period cannot end in the future."),
        ({"start": "99999-01-01", "end": "2026-11-10"}, "Enter a valid date."),
        ({"days": "100000"}, "Select a valid choice."),
    ],
)
def test_a_bad_period_is_a_form_error_and_the_default_is_shown(
    activity, admin_client, params, error
):
    with _today(NOW):
        response = admin_client.get(reverse("admin:index"), params)
    assert response.status_code == 200
    body = response.content.decode()
    assert error in body
    assert "vs previous 30 days" in body or "previous 30 days:" in body


@pytest.mark.parametrize("role", ["viewer", "marketer", "steward"])
def test_every_role_that_reads_customers_chooses_a_period(activity, role_client, role):
    response = role_client(role).get(reverse("admin:index"), {"days": "7"})
    assert 'id="bo-period"' in response.content.decode()


def test_profiles_chart_axis_starts_at_zero_with_thousands():
    from backoffice.charts import line_chart

    chart = line_chart(
        [(NOW.date() - timedelta(days=1), 1331), (NOW.date(), 1400)], title="Profiles"
    )
    assert ">1,400<" in chart
    assert ">0<" in chart
    assert ">1331<" not in chart  # no axis from the lowest value


def test_another_period_is_cached_on_its_own(activity, admin_client):
    admin_client.get(reverse("admin:index"), {"days": "7"})
    week = admin_client.get(reverse("admin:index"), {"days": "7"}).content.decode()
    month = admin_client.get(reverse("admin:index")).content.decode()
    assert "vs previous 7 days" in week or "previous 7 days:" in week
    assert "vs previous 30 days" in month or "previous 30 days:" in month


def _today(now):
    from unittest import mock

    return mock.patch("django.utils.timezone.now", return_value=now)
