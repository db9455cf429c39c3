import pytest

from segments.services import recompute_segment, save_segment
from tests.api.conftest import assert_error
from tests.segments.conftest import NOW


@pytest.fixture
def germans(make_customer, make_identity):
    ann = make_customer(first_name="Ann", email="ann@example.com", country="DE")
    make_identity(ann, "email", "ann@example.com")
    bob = make_customer(first_name="Bob", email="bob@example.com", country="FR")
    make_identity(bob, "email", "bob@example.com")
    segment = save_segment(name="Germans", rule={"field": "country", "op": "eq", "value": "DE"})
    recompute_segment(segment_id=segment.pk, now=NOW)
    return segment, ann, bob


def test_list_segments_with_their_size(make_api_client, germans):
    segment, _, _ = germans
    response = make_api_client("segments:read").get("/api/v1/segments/")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert (row["id"], row["name"], row["kind"], row["size"]) == (
        segment.pk,
        "Germans",
        "dynamic",
        1,
    )
    assert row["rule"] == {"field": "country", "op": "eq", "value": "DE"}
    assert row["personalize"] is False  # shown to websites through /v1/personalize?


def test_members_are_listed_with_pagination(make_api_client, germans):
    segment, ann, _ = germans
    response = make_api_client("segments:read").get(f"/api/v1/segments/{segment.pk}/members/")
    assert response.status_code == 200
    body = response.json()
    assert body["results"] == [{"customer_id": ann.pk, "entered_at": "2026-11-28T12:00:00Z"}]
    assert body["next"] is None


def test_member_list_carries_no_contact_data(make_api_client, germans):
    """Emails leave through an export that asks for a purpose; a segments:read
    key could otherwise list every member's email without ``profiles:read``."""
    segment, _, _ = germans
    response = make_api_client("segments:read", "profiles:read").get(
        f"/api/v1/segments/{segment.pk}/members/"
    )
    assert "ann@example.com" not in response.content.decode()


def test_asking_about_one_profile_needs_the_profile_scope(make_api_client, germans):
    """Otherwise ``members/email:…/`` tells a segments-only key who is a customer."""
    segment, _, _ = germans
    response = make_api_client("segments:read").get(
        f"/api/v1/segments/{segment.pk}/members/email:ann@example.com/"
    )
    assert_error(response, 403, "missing_scope")


def test_membership_of_one_profile_by_identifier(make_api_client, germans):
    segment, ann, bob = germans
    client = make_api_client("segments:read", "profiles:read")

    yes = client.get(f"/api/v1/segments/{segment.pk}/members/email:ANN@example.com/")
    no = client.get(f"/api/v1/segments/{segment.pk}/members/email:bob@example.com/")

    assert yes.json() == {
        "segment_id": segment.pk,
        "customer_id": ann.pk,
        "member": True,
        "entered_at": "2026-11-28T12:00:00Z",
    }
    assert no.json() == {
        "segment_id": segment.pk,
        "customer_id": bob.pk,
        "member": False,
        "entered_at": None,
    }


def test_unknown_profile_and_segment_are_404(make_api_client, germans):
    segment, _, _ = germans
    client = make_api_client("segments:read", "profiles:read")
    assert_error(
        client.get(f"/api/v1/segments/{segment.pk}/members/email:nobody@example.com/"),
        404,
        "profile_not_found",
    )
    assert_error(client.get("/api/v1/segments/999999/members/"), 404, "segment_not_found")
    assert_error(
        client.get(f"/api/v1/segments/{segment.pk}/members/nonsense/"), 400, "invalid_identifier"
    )


def test_segments_need_the_segments_read_scope(make_api_client, germans):
    assert_error(make_api_client("profiles:read").get("/api/v1/segments/"), 403, "missing_scope")
