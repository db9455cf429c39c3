"""The builder explains a count (issue 26): per-condition and running counts,
known events offered, the size trend and the overlap with another segment."""

from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone

from segments.charts import size_chart
from segments.models import SegmentSize
from segments.previews import condition_counts
from segments.services import add_to_static_segment, save_segment

GERMANY = {"field": "country", "op": "eq", "value": "Germany"}
PRO = {"trait": "plan", "op": "eq", "value": "pro"}
FRANCE = {"field": "country", "op": "eq", "value": "FR"}


@pytest.fixture
def people(make_customer):
    return [
        make_customer(first_name="Ann", country="DE", traits={"plan": "pro"}),
        make_customer(first_name="Ben", country="DE", traits={"plan": "free"}),
        make_customer(first_name="Cleo", country="FR", traits={"plan": "pro"}),
        make_customer(first_name="Dan", country="IT", traits={"plan": "free"}),
    ]


def _preview(client, rule):
    return client.post(
        reverse("admin:segments_builder_preview"), {"rule": rule}, content_type="application/json"
    )


def test_each_condition_is_counted_alone_and_after_each_and_step(people, admin_client):
    body = _preview(admin_client, {"all": [GERMANY, PRO, FRANCE]}).json()
    assert body["count"] == 0
    assert body["steps"] == [
        {"path": "$.all[0]", "alone": 2, "running": 2},
        {"path": "$.all[1]", "alone": 2, "running": 1},
        {"path": "$.all[2]", "alone": 1, "running": 0},  # France is what empties it
    ]


def test_an_any_group_counts_what_each_condition_adds(people, admin_client):
    body = _preview(admin_client, {"any": [GERMANY, FRANCE, PRO]}).json()
    assert [(s["alone"], s["running"]) for s in body["steps"]] == [(2, 2), (1, 3), (2, 3)]
    assert body["count"] == 3


def test_negated_and_nested_conditions_are_counted_as_a_whole(people, admin_client):
    rule = {"all": [{"not": GERMANY}, {"any": [PRO, FRANCE]}]}
    steps = _preview(admin_client, rule).json()["steps"]
    assert [(s["alone"], s["running"]) for s in steps] == [(2, 2), (2, 1)]


def test_a_single_condition_has_no_steps(people, admin_client):
    assert _preview(admin_client, GERMANY).json()["steps"] == []


def test_the_counts_take_one_query_however_many_conditions(people, django_assert_num_queries):
    with django_assert_num_queries(1):
        condition_counts({"all": [GERMANY, PRO, FRANCE, GERMANY]}, now=timezone.now())


def test_a_grouped_rule_is_counted_from_its_steps(people):
    """The preview's count is the last running count: the steps' query
    replaces the COUNT(*), so a group costs no more queries than one condition."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from segments.previews import preview

    with CaptureQueriesContext(connection) as single:
        assert preview(rule=GERMANY)["count"] == 2
    with CaptureQueriesContext(connection) as grouped:
        answer = preview(rule={"any": [GERMANY, FRANCE]})
    assert answer["count"] == answer["steps"][-1]["running"] == 3
    assert len(grouped.captured_queries) == len(single.captured_queries)


def test_a_rule_with_more_conditions_than_steps_is_counted_whole(people, admin_client):
    from segments.previews import MAX_STEPS

    rule = {"all": [{"not": FRANCE}] * MAX_STEPS + [GERMANY]}  # the last one is past the steps
    body = _preview(admin_client, rule).json()
    assert len(body["steps"]) == MAX_STEPS
    assert body["steps"][-1]["running"] == 3
    assert body["count"] == 2


def test_merged_profiles_are_not_counted(people, admin_client):
    people[1].merged_into = people[0]
    people[1].save()
    steps = _preview(admin_client, {"all": [GERMANY, PRO]}).json()["steps"]
    assert steps[0]["alone"] == 1


@pytest.mark.parametrize("role", ["viewer", "marketer", "steward"])
def test_every_role_that_reads_segments_sees_the_counts(people, role_client, role):
    response = _preview(role_client(role), {"all": [GERMANY, PRO]})
    assert response.status_code == 200
    assert response.json()["steps"][1]["running"] == 1


def test_a_new_event_condition_starts_on_the_purchase_event(admin_client, settings):
    settings.TRIBUTARY_PURCHASE_EVENT = "Checkout Done"
    options = admin_client.get(reverse("admin:segments_builder_options")).json()
    assert options["purchase_event"] == "Checkout Done"


def test_one_recorded_day_is_drawn_as_a_labelled_bar():
    chart = size_chart([(date(2026, 11, 28), 12345)])
    assert "<rect" in chart
    assert "12,345 members" in chart
    assert "One day recorded so far" in chart


def test_the_size_line_starts_at_zero_and_writes_thousands():
    chart = size_chart([(date(2026, 11, 27), 1331), (date(2026, 11, 28), 1400)])
    assert "<polyline" in chart
    assert ">1,400<" in chart
    assert ">0<" in chart


@pytest.fixture
def two_segments(people):
    one = save_segment(name="Newsletter", kind="static", rule={})
    two = save_segment(name="Buyers", kind="static", rule={})
    add_to_static_segment(segment=one, customer_ids=[p.pk for p in people[:3]])
    add_to_static_segment(segment=two, customer_ids=[p.pk for p in people[1:]])
    return one, two


@pytest.mark.parametrize("role", ["viewer", "marketer", "steward"])
def test_the_segment_page_shows_the_overlap_with_another(two_segments, role_client, role):
    one, two = two_segments
    url = reverse("admin:segments_segment_change", args=[one.pk])
    response = role_client(role).get(url, {"overlap": two.pk})
    assert response.status_code == 200
    assert response.context["overlap"] == {
        "size": 3,
        "other_size": 3,
        "both": 2,
        "only_this": 1,
        "only_other": 1,
        "percent_of_this": 67,
    }
    assert "In both" in response.content.decode()


@pytest.mark.parametrize("wanted", ["abc", "-1", "99999999999999999999999", "0", "self"])
def test_a_bad_overlap_choice_is_a_message_not_an_error(two_segments, admin_client, wanted):
    one, _ = two_segments
    url = reverse("admin:segments_segment_change", args=[one.pk])
    response = admin_client.get(url, {"overlap": str(one.pk) if wanted == "self" else wanted})
    assert response.status_code == 200
    assert "Pick another segment to compare with." in response.content.decode()


def test_the_size_chart_on_the_page_with_one_day(two_segments, admin_client):
    one, _ = two_segments  # adding the members kept today's size
    assert SegmentSize.objects.filter(segment=one).count() == 1
    body = admin_client.get(reverse("admin:segments_segment_change", args=[one.pk])).content
    assert b"One day recorded so far" in body
