import json

from django.urls import reverse

from segments.models import Segment, SegmentMembership


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
