import json

from django.urls import reverse

from segments.models import Segment, SegmentMembership
from segments.services import recompute_segment, save_segment


def test_admin_creates_a_dynamic_segment_and_computes_it(
    admin_client, make_customer, django_capture_on_commit_callbacks
):
    ann = make_customer(country="DE")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:segments_segment_add"),
            {
                "name": "Germans",
                "kind": "dynamic",
                "is_active": "on",
                "rule": json.dumps({"field": "country", "op": "eq", "value": "DE"}),
            },
        )
    assert response.status_code == 302
    segment = Segment.objects.get(name="Germans")
    assert segment.dependencies == ["field:country"]
    assert list(SegmentMembership.objects.values_list("segment_id", "customer_id")) == [
        (segment.pk, ann.pk)
    ]


def test_admin_shows_rule_errors_with_their_path(admin_client):
    response = admin_client.post(
        reverse("admin:segments_segment_add"),
        {
            "name": "Broken",
            "kind": "dynamic",
            "rule": json.dumps({"all": [{"field": "shoe_size", "op": "eq", "value": "9"}]}),
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["rule"] == [
        "$.all[0].field: 'shoe_size' is not a profile field (unknown_field)"
    ]
    assert not Segment.objects.exists()


def test_builder_options_offer_values_from_the_data(admin_client, make_customer, make_event):
    ann = make_customer(traits={"plan": "pro", "tier": "gold"})
    make_event(ann, "Order Completed", properties={"total": 5, "coupon": "XMAS"})

    options = admin_client.get(reverse("admin:segments_builder_options")).json()
    properties = admin_client.get(
        reverse("admin:segments_builder_values"), {"event": "Order Completed"}
    ).json()
    values = admin_client.get(reverse("admin:segments_builder_values"), {"trait": "plan"}).json()

    assert options["traits"] == ["plan", "tier"]
    assert options["events"] == ["Order Completed"]
    assert options["fields"]["birthday"] == "date"
    assert "within_last_days" in options["operators"]["datetime"]
    assert properties == {"properties": ["coupon", "total"]}
    assert values == {"values": ["pro"]}


def test_builder_preview_counts_and_samples_matching_profiles(admin_client, make_customer):
    ann = make_customer(first_name="Ann", country="DE")
    make_customer(first_name="Bob", country="FR")

    response = admin_client.post(
        reverse("admin:segments_builder_preview"),
        {"rule": {"field": "country", "op": "eq", "value": "de"}},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json() == {
        "count": 1,
        "sample": [{"id": ann.pk, "name": "Ann", "email": "", "url": ann.get_absolute_url()}],
        "steps": [],
        "estimated": False,
        "errors": [],
    }


def test_builder_preview_reports_rule_errors_as_400(admin_client):
    response = admin_client.post(
        reverse("admin:segments_builder_preview"),
        {"rule": {"all": [{"trait": "plan", "op": "gt", "value": "x"}]}},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_rule"
    assert response.json()["details"]["errors"] == [
        {"path": "$.all[0].value", "code": "bad_value", "message": "a number"}
    ]


def test_builder_preview_refuses_a_body_that_is_not_json(admin_client):
    response = admin_client.post(
        reverse("admin:segments_builder_preview"), "nope", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


def test_segment_page_lists_members_and_chart(
    admin_client, make_customer, django_assert_max_num_queries
):
    from segments.services import recompute_segment, save_segment

    ann = make_customer(first_name="Ann", email="ann@example.com", country="DE")
    segment = save_segment(name="Germans", rule={"field": "country", "op": "eq", "value": "DE"})
    recompute_segment(segment_id=segment.pk)

    with django_assert_max_num_queries(20):
        response = admin_client.get(reverse("admin:segments_segment_change", args=[segment.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert ann.get_absolute_url() in body
    assert 'class="segment-size-chart"' in body
    assert reverse("admin:segments_segment_export", args=[segment.pk]) in body


def test_members_export_is_a_csv_of_current_members(admin_client, make_customer):
    from segments.services import recompute_segment, save_segment

    ann = make_customer(first_name="Ann", email="ann@example.com", phone="+4930123", country="DE")
    segment = save_segment(name="Germans", rule={"field": "country", "op": "eq", "value": "DE"})
    recompute_segment(segment_id=segment.pk)

    response = admin_client.post(
        reverse("admin:segments_segment_export", args=[segment.pk]),
        {"purpose": "analytics", "file_format": "csv"},
    )

    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert lines[0].startswith("id,email,phone,first_name")
    assert lines[1].startswith(f"{ann.pk},ann@example.com,'+4930123,Ann,")
    assert len(lines) == 2


def test_static_segment_takes_members_by_identifier(admin_client, make_customer, make_identity):
    ann = make_customer(email="ann@example.com")
    make_identity(ann, "email", "ann@example.com")
    segment = Segment.objects.create(name="VIP", kind="static")

    response = admin_client.post(
        reverse("admin:segments_segment_change", args=[segment.pk]),
        {
            "name": "VIP",
            "kind": "static",
            "is_active": "on",
            "rule": "{}",
            "members_to_add": "ANN@example.com\n",
        },
    )

    assert response.status_code == 302
    assert list(
        SegmentMembership.objects.filter(exited_at__isnull=True).values_list(
            "customer_id", flat=True
        )
    ) == [ann.pk]


def test_static_segment_refuses_unknown_identifiers(admin_client):
    segment = Segment.objects.create(name="VIP", kind="static")
    response = admin_client.post(
        reverse("admin:segments_segment_change", args=[segment.pk]),
        {"name": "VIP", "kind": "static", "rule": "{}", "members_to_add": "nobody@example.com"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["members_to_add"] == [
        "No profile found for: nobody@example.com"
    ]


def test_customer_360_shows_computed_traits(admin_client, make_customer, make_event):
    from segments.models import ComputedTrait
    from segments.services import recompute_segment, save_segment

    ann = make_customer(first_name="Ann", country="DE")
    make_event(ann, "Order Completed", days_ago=1)
    make_event(ann, "Order Completed", days_ago=2)
    ComputedTrait.objects.create(
        name="orders_30d", kind="count", event="Order Completed", window_days=30
    )
    segment = save_segment(name="Germans", rule={"field": "country", "op": "eq", "value": "DE"})
    recompute_segment(segment_id=segment.pk)

    response = admin_client.get(reverse("admin:customers_customer_change", args=[ann.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "<td>Germans</td>" in body
    assert '<tr class="bo-computed"><td>orders_30d</td><td>2</td></tr>' in body


def test_admin_deletes_a_segment_with_its_memberships(admin_client, make_customer):
    """Memberships keep no foreign-key constraint to their segment: the
    admin's deletions go through ``delete_segments``, which takes them along."""
    ann, bob = make_customer(country="DE"), make_customer(country="DE")
    germans, other = (
        save_segment(name=name, rule={"field": "country", "op": "eq", "value": "DE"})
        for name in ("Germans", "Also Germans")
    )
    for segment in (germans, other):
        recompute_segment(segment_id=segment.pk)

    response = admin_client.post(
        reverse("admin:segments_segment_delete", args=[germans.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Segment.objects.filter(pk=germans.pk).exists()
    assert set(SegmentMembership.objects.values_list("segment_id", "customer_id")) == {
        (other.pk, ann.pk),
        (other.pk, bob.pk),
    }
    response = admin_client.post(
        reverse("admin:segments_segment_changelist"),
        {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not SegmentMembership.objects.exists()
