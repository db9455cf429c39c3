"""The customer page reads first (issue 26): summary, timeline with event
properties, identities; editing behind "Edit"; actions by role."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from accounts.masking import mask_email
from consent.models import ConsentState, DataSubjectRequest, Purpose
from customers.models import Customer, Event, IdentifierType, Identity
from segments.models import Segment, SegmentMembership


@pytest.fixture
def person(source):
    customer = Customer.objects.create(
        first_name="Sofía", last_name="Rossi", email="sofia@example.it", is_identified=True
    )
    Identity.objects.create(
        type=IdentifierType.objects.get(name="email"),
        value="sofia@example.it",
        customer=customer,
        source=source,
    )
    start = datetime(2026, 5, 2, tzinfo=UTC)
    orders = [{"revenue": 120.5}, {"total": 30}, {"revenue": "12.50"}]  # text is no number
    Event.objects.bulk_create(
        [
            *(
                Event(
                    customer=customer,
                    source=source,
                    type="track",
                    name="Order Completed",
                    properties=props,
                    timestamp=start + timedelta(days=i),
                    message_id=f"o-{i}",
                )
                for i, props in enumerate(orders)
            ),
            Event(
                customer=customer,
                source=source,
                type="track",
                name="Newsletter Signup",
                properties={"contact": "sofia@example.it", "list": "weekly"},
                timestamp=start + timedelta(days=5),
                message_id="n-1",
            ),
        ]
    )
    return customer


def _url(customer, **params):
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def test_the_customer_page_reads_first_with_the_summary_before_the_timeline(person, admin_client):
    response = admin_client.get(_url(person))
    body = response.content.decode()
    assert response.templates[0].name == "backoffice/customer_360.html"
    assert 'name="first_name"' not in body  # no edit form until "Edit"
    assert body.index('id="bo-header"') < body.index('id="bo-timeline"')
    assert "Sofía Rossi" in body


def test_lifetime_value_and_orders_count_the_purchase_event(person, admin_client):
    purchases = admin_client.get(_url(person)).context["bo"]["purchases"]
    assert (purchases.count, purchases.revenue) == (3, 150.5)


def test_timeline_shows_event_properties_and_filters_by_name(person, admin_client):
    bo = admin_client.get(_url(person, event_name="Newsletter Signup")).context["bo"]
    (event,) = bo["events"].object_list
    assert event.shown_properties == [("contact", "sofia@example.it"), ("list", "weekly")]
    assert bo["event_names"] == ["Newsletter Signup", "Order Completed"]


def test_a_viewer_reads_the_page_with_contact_details_masked(person, role_client):
    response = role_client("viewer").get(_url(person))
    body = response.content.decode()
    assert response.status_code == 200
    assert "sofia@example.it" not in body
    assert mask_email("sofia@example.it") in body
    assert 'id="bo-edit"' not in body
    assert 'id="bo-actions"' not in body


def test_identities_are_listed_once_each_with_their_source(person, admin_client, source):
    rows = admin_client.get(_url(person)).context["bo"]["identities"]
    assert [(r.type, r.value, r.source) for r in rows] == [
        ("email", "sofia@example.it", source.name)
    ]


@pytest.mark.parametrize(
    ("role", "edit", "consent", "request_form", "segment"),
    [
        ("viewer", False, False, False, False),
        ("marketer", False, False, False, True),
        ("steward", True, True, True, True),
    ],
)
def test_each_role_sees_the_actions_it_may_take(
    person, role_client, role, edit, consent, request_form, segment
):
    body = role_client(role).get(_url(person)).content.decode()
    assert ('id="bo-edit"' in body) is edit
    assert ('id="bo-record-consent"' in body) is consent
    assert ('id="bo-privacy-request"' in body) is request_form
    assert ('id="bo-add-to-segment"' in body) is segment


def test_edit_opens_the_form_and_saving_returns_to_the_read_page(person, role_client):
    client = role_client("steward")
    assert 'name="first_name"' in client.get(_url(person, edit=1)).content.decode()
    data = {
        "first_name": "Sofia",
        "last_name": "Rossi",
        "email": "sofia@example.it",
        **dict.fromkeys(("phone", "birthday", "company", "address_line1", "address_line2"), ""),
        **dict.fromkeys(("postal_code", "city", "region", "country"), ""),
        "identities-TOTAL_FORMS": "1",
        "identities-INITIAL_FORMS": "1",
        "identities-0-id": str(person.identities.get().pk),
        "identities-0-customer": str(person.pk),
    }
    response = client.post(_url(person, edit=1), data)
    assert response.status_code == 302
    assert response.url == _url(person)
    assert Customer.objects.get(pk=person.pk).first_name == "Sofia"


def test_a_marketer_adds_the_person_to_a_static_segment(person, role_client):
    vip = Segment.objects.create(name="VIP", kind="static")
    url = reverse("admin:customers_customer_add_to_segment", args=[person.pk])
    response = role_client("marketer").post(url, {"segment": vip.pk})
    assert response.status_code == 302
    assert SegmentMembership.objects.filter(segment=vip, customer=person).exists()


def test_a_dynamic_segment_cannot_be_picked(person, role_client):
    dynamic = Segment.objects.create(name="Rule", kind="dynamic", rule={})
    url = reverse("admin:customers_customer_add_to_segment", args=[person.pk])
    response = role_client("marketer").post(url, {"segment": dynamic.pk}, follow=True)
    assert response.status_code == 200
    assert "Not added" in response.content.decode()
    assert not SegmentMembership.objects.filter(customer=person).exists()


def test_a_steward_records_consent_from_the_page(person, role_client):
    url = reverse("admin:customers_customer_record_consent", args=[person.pk])
    purpose = Purpose.objects.get(code="email_marketing")
    response = role_client("steward").post(url, {"purpose": purpose.pk, "state": "granted"})
    assert response.status_code == 302
    state = ConsentState.objects.get(customer=person, purpose=purpose)
    assert (state.state, state.record.method) == ("granted", "admin")


def test_a_steward_files_an_erasure_request_from_the_page(person, role_client):
    url = reverse("admin:customers_customer_privacy_request", args=[person.pk])
    data = {"type": "erasure", "identifier": "email:sofia@example.it"}
    assert role_client("steward").post(url, data).status_code == 302
    assert DataSubjectRequest.objects.filter(
        type="erasure", identifier="email:sofia@example.it"
    ).exists()


def test_an_identifier_of_someone_else_is_refused(person, role_client):
    url = reverse("admin:customers_customer_privacy_request", args=[person.pk])
    data = {"type": "access", "identifier": "email:other@example.com"}
    response = role_client("steward").post(url, data, follow=True)
    assert "No request filed" in response.content.decode()
    assert not DataSubjectRequest.objects.exists()


@pytest.mark.parametrize(
    ("role", "name", "data"),
    [
        ("viewer", "add_to_segment", {"segment": "1"}),
        ("marketer", "record_consent", {"purpose": "1", "state": "granted"}),
        ("marketer", "privacy_request", {"type": "erasure", "identifier": "email:x@y.z"}),
    ],
)
def test_actions_a_role_may_not_take_are_refused(person, role_client, role, name, data):
    url = reverse(f"admin:customers_customer_{name}", args=[person.pk])
    assert role_client(role).post(url, data).status_code == 403
    assert not ConsentState.objects.exists()
    assert not DataSubjectRequest.objects.exists()


def test_actions_answer_only_post(person, role_client):
    url = reverse("admin:customers_customer_add_to_segment", args=[person.pk])
    assert role_client("marketer").get(url).status_code == 405
