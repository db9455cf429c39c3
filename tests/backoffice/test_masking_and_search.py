import logging

import pytest
from django.urls import reverse

from accounts.masking import RedactContactDetails, mask_email, mask_phone
from customers.models import Customer, IdentifierType, Identity


@pytest.fixture
def ann(demo):
    return (
        Customer.objects.filter(is_identified=True, first_name__gt="")
        .exclude(email="")
        .exclude(phone="")
        .first()
    )


def test_mask_email_keeps_first_character_and_top_level_domain():
    assert mask_email("ann.lee@example.com") == "a•••@•••.com"


def test_mask_phone_keeps_last_two_digits():
    assert mask_phone("+4915112345678") == "•••78"


def test_viewer_sees_masked_email_and_phone_in_customer_list(ann, role_client):
    body = role_client("viewer").get(reverse("admin:customers_customer_changelist")).content
    assert ann.email.encode() not in body
    assert ann.phone.encode() not in body
    assert mask_email(ann.email).encode() in body


def test_marketer_sees_full_email_in_customer_list(ann, role_client):
    body = role_client("marketer").get(reverse("admin:customers_customer_changelist")).content
    assert ann.email.encode() in body


def test_viewer_sees_masked_contact_details_on_customer_page(ann, role_client):
    response = role_client("viewer").get(reverse("admin:customers_customer_change", args=[ann.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert ann.email not in body
    assert ann.phone not in body
    assert mask_email(ann.email) in body


def test_viewer_sees_masked_identity_values(ann, role_client):
    body = role_client("viewer").get(reverse("admin:customers_identity_changelist")).content
    emails = Identity.objects.filter(type__name="email").values_list("value", flat=True)
    assert not any(e.encode() in body for e in emails)


def test_viewer_reads_the_customer_history_masked(ann, role_client):
    ann.email = "changed.address@example.org"
    ann.save()
    response = role_client("viewer").get(reverse("admin:customers_customer_history", args=[ann.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "changed.address@example.org" not in body
    assert ann.history.count() > 1
    assert mask_email("changed.address@example.org") in body


def test_viewer_cannot_save_a_customer(ann, role_client):
    url = reverse("admin:customers_customer_change", args=[ann.pk])
    response = role_client("viewer").post(url, {"first_name": "Changed"})
    assert response.status_code == 403


def test_search_by_email_with_one_match_opens_the_360_page(ann, role_client):
    response = role_client("marketer").post(
        reverse("backoffice-search"), {"q": f"  {ann.email.upper()} "}
    )
    assert response.status_code == 302
    assert response.url == reverse("admin:customers_customer_change", args=[ann.pk])


def _same_term_on(first, second, term="crm-77"):
    """The same value as ann's external id and another person's user id."""
    Identity.objects.create(
        type=IdentifierType.objects.get(name="external_id"), value=term, customer=first
    )
    Identity.objects.create(
        type=IdentifierType.objects.get(name="user_id"), value=term, customer=second
    )
    return term


def test_search_with_several_matches_lists_them(ann, role_client):
    other = Customer.objects.exclude(pk=ann.pk).first()
    term = _same_term_on(ann, other)
    response = role_client("marketer").post(reverse("backoffice-search"), {"q": term})
    assert response.status_code == 200
    assert {r.pk for r in response.context["results"]} == {ann.pk, other.pk}
    assert ann.email.encode() in response.content


def test_search_with_no_match_says_so(demo, role_client):
    response = role_client("marketer").post(
        reverse("backoffice-search"), {"q": "nobody@nowhere.example"}
    )
    assert response.status_code == 200
    assert b'id="no-results"' in response.content


def test_search_ignores_a_term_in_the_url(ann, role_client):
    response = role_client("marketer").get(reverse("backoffice-search"), {"q": ann.email})
    assert response.status_code == 200
    assert response.context["results"] == []


def test_search_results_mask_contact_details_for_viewer(ann, role_client):
    term = _same_term_on(ann, Customer.objects.exclude(pk=ann.pk).first())
    response = role_client("viewer").post(reverse("backoffice-search"), {"q": term})
    assert len(response.context["results"]) == 2
    assert ann.email.encode() not in response.content
    assert mask_email(ann.email).encode() in response.content


def test_every_admin_page_has_the_search_box_posting_to_search(demo, role_client):
    body = role_client("marketer").get(reverse("admin:index")).content.decode()
    assert f'method="post" action="{reverse("backoffice-search")}"' in body


def test_customer_list_search_form_posts_instead_of_putting_terms_in_the_url(demo, role_client):
    body = role_client("marketer").get(reverse("admin:customers_customer_changelist")).content
    assert b'id="changelist-search" method="post"' in body


def test_log_filter_masks_emails_and_phones_in_messages():
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Not Found: %s",
        ("/api/v1/profiles/email:ann@example.com/?p=%2B4915112345678",),
        None,
    )
    RedactContactDetails().filter(record)
    assert record.getMessage() == ("Not Found: /api/v1/profiles/email:a•••@•••.com/?p=•••78")


def test_viewer_exports_customers_with_masked_emails_and_phones(ann, role_client):
    response = role_client("viewer").post(
        reverse("admin:customers_customer_changelist"),
        {"action": "export_csv", "_selected_action": [str(ann.pk)], "purpose": "analytics"},
    )
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert ann.email not in text
    assert ann.phone not in text
    assert mask_email(ann.email) in text


def test_marketer_exports_customers_with_full_emails(ann, role_client):
    response = role_client("marketer").post(
        reverse("admin:customers_customer_changelist"),
        {"action": "export_csv", "_selected_action": [str(ann.pk)], "purpose": "analytics"},
    )
    assert ann.email in b"".join(response.streaming_content).decode("utf-8-sig")


def test_viewer_reads_masked_contact_details_through_the_api(ann, role_client):
    identity = ann.identities.exclude(type__name__in=["email", "phone"]).first()
    client = role_client("viewer")
    response = client.get(f"/api/v1/profiles/{identity.type.name}:{identity.value}/")
    body = response.json()
    assert response.status_code == 200
    assert (body["email"], body["phone"]) == (mask_email(ann.email), mask_phone(ann.phone))
    assert ann.email not in response.content.decode()
    refused = client.get(f"/api/v1/profiles/email:{ann.email}/")
    assert (refused.status_code, refused.json()["code"]) == (403, "contact_lookup_forbidden")


def test_marketer_reads_full_contact_details_through_the_api(ann, role_client):
    response = role_client("marketer").get(f"/api/v1/profiles/email:{ann.email}/")
    assert response.json()["email"] == ann.email


def test_viewer_cannot_open_an_identity_page_titled_with_its_value(ann, role_client):
    identity = Identity.objects.filter(customer=ann, type__name="email").get()
    url = reverse("admin:customers_identity_change", args=[identity.pk])
    assert role_client("viewer").get(url).status_code == 403
    assert role_client("marketer").get(url).status_code == 200


def test_viewer_event_page_masks_the_customer(ann, role_client):
    ann.first_name = ann.last_name = ""
    ann.save()
    event = ann.events.first()
    response = role_client("viewer").get(reverse("admin:customers_event_change", args=[event.pk]))
    assert response.status_code == 200
    assert ann.email.encode() not in response.content


def test_viewer_segment_preview_and_export_mask_contact_details(ann, role_client):
    from segments.models import Segment, SegmentMembership

    rule = {"field": "last_name", "op": "eq", "value": ann.last_name}
    client = role_client("viewer")
    preview = client.post(
        reverse("admin:segments_builder_preview"),
        data={"rule": rule},
        content_type="application/json",
    )
    assert preview.status_code == 200
    assert preview.json()["count"] >= 1
    assert ann.email not in preview.content.decode()
    segment = Segment.objects.create(name="Ann only", kind="static")
    SegmentMembership.objects.create(segment=segment, customer=ann, entered_at=ann.first_seen)
    export = client.post(
        reverse("admin:segments_segment_export", args=[segment.pk]),
        {"purpose": "analytics", "file_format": "csv"},
    )
    text = b"".join(export.streaming_content).decode()
    assert ann.email not in text
    assert mask_email(ann.email) in text


def test_viewer_sees_masked_customers_in_segment_memberships(ann, role_client):
    from segments.models import Segment, SegmentMembership

    ann.first_name = ann.last_name = ""
    ann.save()
    segment = Segment.objects.create(name="Ann only", kind="static")
    SegmentMembership.objects.create(segment=segment, customer=ann, entered_at=ann.first_seen)
    body = role_client("viewer").get(reverse("admin:segments_segmentmembership_changelist"))
    assert body.status_code == 200
    assert ann.email.encode() not in body.content
