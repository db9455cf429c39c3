"""The rule in words (issue 26: the rule is raw JSON on read-only pages)."""

import pytest
from django.urls import reverse

from segments.describe import country_name, describe_rule
from segments.models import Segment

ISSUE_RULE = {
    "all": [
        {"field": "country", "op": "eq", "value": "DE"},
        {"event": "Order Completed", "within_days": 30, "count": {"at_least": 2}},
        {"consent": "email_marketing"},
    ]
}


@pytest.mark.django_db
def test_the_issues_rule_reads_as_a_sentence():
    assert describe_rule(ISSUE_RULE) == (
        "Customers: in Germany and did Order Completed at least 2 times in the last 30 days"
        " and may be used for Email marketing (consent)"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ({}, "Customers: everyone (no condition yet)"),
        (
            {"any": [{"trait": "plan", "op": "in", "value": ["pro", "team"]}, {"segment": 999}]},
            "Customers: (trait plan is one of “pro”, “team” or in segment #999)",
        ),
        (
            {"not": {"event": "Signed Up", "performed": False}},
            "Customers: not (never did Signed Up)",
        ),
        (
            {"field": "last_seen", "op": "within_last_days", "value": 7},
            "Customers: last seen is within the last 7 days",
        ),
        (
            {
                "event": "Order Completed",
                "where": [{"property": "revenue", "op": "gt", "value": 50}],
            },
            "Customers: did Order Completed with revenue is more than 50",
        ),
        ({"has_identifier": "email"}, "Customers: has an identifier of type email"),
    ],
)
def test_conditions_in_words(rule, words):
    assert describe_rule(rule) == words


def test_country_codes_are_named_and_unknown_ones_kept():
    assert (country_name("de"), country_name("XX")) == ("Germany", "XX")


@pytest.mark.django_db
def test_the_segment_page_shows_the_rule_in_words(admin_client):
    segment = Segment.objects.create(name="German buyers", kind="dynamic", rule=ISSUE_RULE)
    body = admin_client.get(reverse("admin:segments_segment_change", args=[segment.pk])).content
    assert b"in Germany and did Order Completed at least 2 times" in body


@pytest.mark.django_db
def test_a_viewer_reads_the_rule_in_words_with_contact_details_masked(client, django_user_model):
    from django.contrib.auth.models import Group

    from accounts.roles import VIEWER

    rule = {"field": "email", "op": "eq", "value": "ann.lee@example.com"}
    segment = Segment.objects.create(name="Ann", kind="dynamic", rule=rule)
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.groups.add(Group.objects.get(name=VIEWER))
    client.force_login(viewer)
    body = client.get(reverse("admin:segments_segment_change", args=[segment.pk])).content
    assert b'id="rule-summary"' in body
    assert b"ann.lee@example.com" not in body
