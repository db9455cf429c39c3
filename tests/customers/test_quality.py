from datetime import UTC, date, datetime

from django.urls import reverse

from customers.models import Customer, DataQualityIssue, Identity
from sources.contracts import NormalizedMessage
from sources.pipeline import process_message

AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def identify(source, message_id, *, user_id=None, anonymous_id=None, traits=None):
    return process_message(
        NormalizedMessage(
            source_id=source.pk,
            message_id=message_id,
            type="identify",
            timestamp=AT,
            received_at=AT,
            user_id=user_id,
            anonymous_id=anonymous_id,
            traits=traits or {},
        )
    )


def test_identify_traits_are_cleansed_before_they_reach_the_profile(source):
    result = identify(
        source,
        "m-1",
        user_id="u-1",
        traits={
            "email": " ANN@Example.COM",
            "firstName": "ANN",
            "lastName": "o'neil",
            "birthday": "31.12.1990",
            "address": {"country": "Germany", "postalCode": " 10115 ", "city": " Berlin "},
            "phone": "0151 23456789",
        },
    )
    ann = Customer.objects.get(pk=result.customer.pk)
    assert (ann.email, ann.first_name, ann.last_name) == ("ann@example.com", "Ann", "O'Neil")
    assert (ann.birthday, ann.country, ann.postal_code, ann.city) == (
        date(1990, 12, 31),
        "DE",
        "10115",
        "Berlin",
    )
    assert DataQualityIssue.objects.count() == 0


def test_invalid_traits_stay_out_and_are_recorded_per_profile_and_source(source):
    result = identify(
        source,
        "m-1",
        user_id="u-1",
        traits={"email": "ann@", "birthday": "1990-02-30", "firstName": "Ann"},
    )
    ann = Customer.objects.get(pk=result.customer.pk)
    assert (ann.email, ann.birthday, ann.first_name) == ("", None, "Ann")
    assert set(Identity.objects.values_list("type__name", "value")) == {("user_id", "u-1")}
    issues = DataQualityIssue.objects.order_by("field")
    assert [(i.field, i.value, i.code, i.customer_id, i.source_id) for i in issues] == [
        ("birthday", "1990-02-30", "invalid_date", ann.pk, source.pk),
        ("email", "ann@", "invalid_email", ann.pk, source.pk),
    ]


def test_junk_identifier_is_recorded_not_used(source):
    result = identify(source, "m-1", user_id="undefined", anonymous_id="dev-1")
    assert set(Identity.objects.values_list("type__name", "value")) == {("anonymous_id", "dev-1")}
    issue = DataQualityIssue.objects.get()
    assert (issue.field, issue.value, issue.code, issue.customer_id) == (
        "user_id",
        "undefined",
        "junk_identifier",
        result.customer.pk,
    )


def test_message_without_usable_identifier_records_issue_for_the_source(source):
    result = identify(source, "m-1", user_id="null")
    assert result.customer is None
    issue = DataQualityIssue.objects.get()
    assert (issue.customer_id, issue.source_id, issue.code) == (None, source.pk, "junk_identifier")


def test_admin_shows_issues_on_the_profile_and_in_the_issue_list(source, admin_client):
    result = identify(source, "m-1", user_id="u-1", traits={"email": "not-an-email"})
    page = admin_client.get(reverse("admin:customers_customer_change", args=[result.customer.pk]))
    assert page.status_code == 200
    assert "invalid_email" in page.content.decode()
    listing = admin_client.get(
        reverse("admin:customers_dataqualityissue_changelist"), {"source__id__exact": source.pk}
    )
    assert listing.status_code == 200
    assert [i.value for i in listing.context["cl"].result_list] == ["not-an-email"]
