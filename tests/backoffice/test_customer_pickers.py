"""Customer pickers (issue 26): wherever the admin asks for a customer, a
typeahead over the global search instead of a raw id, with the Viewer rules
(masked labels, no email or phone lookups)."""

import pytest
from django.urls import reverse

from accounts.admin_roles import SEARCH_REFUSED
from consent.models import ConsentRecord, DataSubjectRequest
from customers.models import Customer, IdentifierType, Identity
from segments.models import Segment, SegmentMembership


@pytest.fixture
def people(source):
    def person(first, last, email, city):
        customer = Customer.objects.create(
            first_name=first, last_name=last, email=email, city=city, is_identified=True
        )
        Identity.objects.create(
            type=IdentifierType.objects.get(name="email"),
            value=email,
            customer=customer,
            source=source,
        )
        return customer

    return {
        "sofia": person("Sofía", "Rossi", "sofia@example.it", "Milano"),
        "lukas": person("Lukas", "Schmidt", "lukas@example.de", "München"),
        "anon": Customer.objects.create(email="nameless@example.com"),
    }


def _autocomplete(client, term, *, model="consentrecord", app="consent", field="customer"):
    return client.get(
        reverse("admin:autocomplete"),
        {"app_label": app, "model_name": model, "field_name": field, "term": term},
    )


def test_the_consent_form_picks_the_customer_by_typeahead_not_by_id(role_client):
    body = role_client("steward").get(reverse("admin:consent_consentrecord_add")).content.decode()
    assert 'class="admin-autocomplete' in body
    assert f'data-ajax--url="{reverse("admin:autocomplete")}"' in body
    assert "vForeignKeyRawIdAdminField" not in body


@pytest.mark.parametrize("role", ["viewer", "marketer", "steward"])
def test_a_partial_accent_free_name_finds_the_person(people, role_client, role):
    response = _autocomplete(role_client(role), "sofia ross")
    assert response.status_code == 200
    assert response.json()["results"] == [{"id": str(people["sofia"].pk), "text": "Sofía Rossi"}]


def test_an_exact_identifier_comes_first(people, role_client):
    results = _autocomplete(role_client("marketer"), "lukas@example.de").json()["results"]
    assert [r["id"] for r in results] == [str(people["lukas"].pk)]


def test_a_viewer_may_not_look_up_by_email_and_sees_labels_masked(people, role_client):
    viewer = role_client("viewer")
    refused = _autocomplete(viewer, "sofia@example.it")
    assert refused.status_code == 403
    assert SEARCH_REFUSED in refused.content.decode()
    # a profile without a name is labelled by its masked email, for every role
    texts = [r["text"] for r in _autocomplete(viewer, "").json()["results"]]
    assert "n•••@•••.com" in texts
    assert "nameless@example.com" not in " ".join(texts)


@pytest.mark.parametrize("term", ["x" * 100_000, "%_\\", "' OR 1=1 --"])
def test_hostile_terms_find_nothing_and_fail_nothing(people, role_client, term):
    response = _autocomplete(role_client("marketer"), term)
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_a_nul_in_a_picker_term_is_left_out(people, role_client):
    results = _autocomplete(role_client("marketer"), "sofia\x00").json()["results"]
    assert [r["text"] for r in results] == ["Sofía Rossi"]


@pytest.mark.parametrize(
    "url_name", ["customers_customer_changelist", "customers_identity_changelist"]
)
def test_a_nul_in_a_list_search_is_no_error(people, role_client, url_name):
    response = role_client("marketer").get(reverse(f"admin:{url_name}"), {"q": "sofia\x00"})
    assert response.status_code == 200


def test_a_nul_in_the_global_search_is_no_error(people, role_client):
    response = role_client("marketer").post(reverse("backoffice-search"), {"q": "Rossi\x00"})
    assert response.status_code == 302  # the one match: her page


def test_a_page_number_that_is_not_one_is_a_404(people, role_client):
    response = role_client("marketer").get(
        reverse("admin:autocomplete"),
        {"app_label": "consent", "model_name": "consentrecord", "field_name": "customer"}
        | {"term": "sofia", "page": "nope"},
    )
    assert response.status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(people, client):
    response = _autocomplete(client, "sofia")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_a_steward_records_consent_for_a_picked_customer(people, role_client):
    response = role_client("steward").post(
        reverse("admin:consent_consentrecord_add"),
        {
            "customer": people["sofia"].pk,
            "purpose": ConsentRecord._meta.get_field("purpose")
            .related_model.objects.get(code="email_marketing")
            .pk,
            "state": "granted",
            "occurred_at_0": "2026-11-28",
            "occurred_at_1": "10:00:00",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert ConsentRecord.objects.get().customer == people["sofia"]


def test_consent_recorded_without_a_time_is_recorded_now(people, role_client):
    from django.utils import timezone

    before = timezone.now()
    response = role_client("steward").post(
        reverse("admin:consent_consentrecord_add"),
        {"customer": people["lukas"].pk, "purpose": _purpose_pk(), "state": "denied"},
    )
    assert response.status_code == 302
    assert ConsentRecord.objects.get().occurred_at >= before


def _purpose_pk() -> int:
    from consent.models import Purpose

    return Purpose.objects.get(code="email_marketing").pk


def test_a_privacy_request_is_filed_under_the_picked_persons_identifier(people, role_client):
    response = role_client("steward").post(
        reverse("admin:consent_datasubjectrequest_add"),
        {"type": "access", "customer": people["lukas"].pk, "identifier": ""},
    )
    assert response.status_code == 302
    assert DataSubjectRequest.objects.get().identifier == "email:lukas@example.de"


def test_a_privacy_request_needs_an_identifier_or_a_person(role_client):
    response = role_client("steward").post(
        reverse("admin:consent_datasubjectrequest_add"), {"type": "access", "identifier": ""}
    )
    assert response.status_code == 200
    assert "Type an identifier or pick the person." in response.content.decode()
    assert not DataSubjectRequest.objects.exists()


def test_a_viewer_cannot_file_a_privacy_request_with_a_picked_person(people, role_client):
    response = role_client("viewer").post(
        reverse("admin:consent_datasubjectrequest_add"),
        {"type": "erasure", "customer": people["lukas"].pk},
    )
    assert response.status_code == 403
    assert not DataSubjectRequest.objects.exists()


def test_picked_members_join_a_static_segment(people, role_client):
    response = role_client("marketer").post(
        reverse("admin:segments_segment_add"),
        {
            "name": "VIPs",
            "kind": "static",
            "is_active": "on",
            "rule": "{}",
            "members_picked": [people["sofia"].pk, people["lukas"].pk],
        },
    )
    assert response.status_code == 302
    segment = Segment.objects.get(name="VIPs")
    members = SegmentMembership.objects.filter(segment=segment).values_list(
        "customer_id", flat=True
    )
    assert sorted(members) == sorted([people["sofia"].pk, people["lukas"].pk])


def test_a_dynamic_segment_takes_no_picked_members(people, role_client):
    response = role_client("marketer").post(
        reverse("admin:segments_segment_add"),
        {
            "name": "Germans",
            "kind": "dynamic",
            "is_active": "on",
            "rule": '{"field": "country", "op": "eq", "value": "DE"}',
            "members_picked": [people["sofia"].pk],
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["members_picked"] == ["Only static segments take hand-picked members."]


def test_the_segment_form_offers_the_member_picker(role_client):
    body = role_client("marketer").get(reverse("admin:segments_segment_add")).content.decode()
    assert 'name="members_picked"' in body
    assert 'data-model-name="segmentmembership"' in body


@pytest.mark.parametrize(
    ("role", "shown"), [("viewer", False), ("marketer", False), ("steward", True)]
)
def test_only_those_who_may_merge_see_merge_with_on_the_customer_page(
    people, role_client, role, shown
):
    url = reverse("admin:customers_customer_change", args=[people["sofia"].pk])
    body = role_client(role).get(url).content.decode()
    assert ('id="bo-merge-with"' in body) is shown


def test_merge_with_a_picked_profile_opens_the_merge_confirmation(people, role_client):
    response = role_client("steward").post(
        reverse("admin:customers_customer_changelist"),
        {
            "action": "merge_selected",
            "index": "0",
            "_selected_action": [people["sofia"].pk, people["lukas"].pk],
        },
    )
    assert response.status_code == 200
    assert 'id="merge-confirm"' in response.content.decode()
    assert Customer.objects.active().count() == 3  # nothing merged before "Merge"


def test_moving_an_identity_picks_the_new_owner_by_typeahead(people, role_client):
    identity = people["sofia"].identities.get()
    url = reverse("admin:customers_identity_change", args=[identity.pk])
    body = role_client("steward").get(url).content.decode()
    assert 'data-model-name="identity"' in body
    assert "vForeignKeyRawIdAdminField" not in body
