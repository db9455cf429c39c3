"""The REST API and the segment builder under hostile input: 400 with the one
error shape ``{"code", "message", "details"}``, never a database error."""

import base64
import json
from urllib.parse import quote, urlencode

import pytest
from django.urls import reverse

from customers.models import Customer
from sources.models import ImportJob
from tests.api.conftest import assert_error, send


@pytest.fixture
def ann(source):
    send(source, type="track", event="Order Completed", user_id="42")
    return send(
        source,
        user_id="42",
        traits={"email": "ann@example.com", "firstName": "Ann", "plan": "pro"},
        external_ids=(("external_id", "crm/9"),),
    )


def _cursor(position: str, offset: str = "0") -> str:
    return quote(base64.b64encode(urlencode({"p": position, "o": offset}).encode()).decode())


TAMPERED_POSITIONS = [
    "abc",  # text for an integer id
    "99999999999999999999999",  # beyond bigint
    "1\x00",
    "1e999",
]


@pytest.mark.parametrize("position", TAMPERED_POSITIONS)
def test_tampered_cursor_on_an_id_ordered_list_is_a_400(full_api_client, ann, position):
    response = full_api_client.get(f"/api/v1/customers/?cursor={_cursor(position)}")
    body = assert_error(response, 400, "invalid")
    assert "cursor" in body["details"]


@pytest.mark.parametrize(
    "position",
    [
        "yesterday",
        "9999-12-31 23:59:59-14:00",  # overflows when converted to UTC
        "0001-01-01 00:00:00+14:00",
        "2026-02-30 10:00:00+00:00",
    ],
)
def test_tampered_cursor_on_the_timeline_is_a_400(full_api_client, ann, position):
    url = f"/api/v1/profiles/user_id:42/events/?cursor={_cursor(position)}"
    assert_error(full_api_client.get(url), 400, "invalid")


def test_tampered_cursor_on_import_issues_is_a_400(full_api_client, ann, tmp_path):
    job = ImportJob.objects.create(
        original_name="a.csv", format="csv", source=ann.identities.first().source
    )
    url = f"/api/v1/imports/{job.pk}/issues/?cursor={_cursor('abc')}"
    assert_error(full_api_client.get(url), 400, "invalid")


def test_a_real_cursor_still_pages(full_api_client, source):
    for n in range(3):
        send(source, user_id=f"u-{n}")
    first = full_api_client.get("/api/v1/customers/?page_size=2").json()
    second = full_api_client.get(first["next"]).json()
    assert len(first["results"]) + len(second["results"]) == 3


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "a%00b"])
def test_trait_filter_with_a_non_finite_number_or_nul_is_a_400(full_api_client, ann, value):
    response = full_api_client.get(f"/api/v1/customers/?trait=n:{value}")
    body = assert_error(response, 400, "invalid")
    assert "trait" in body["details"]


def test_trait_filter_still_matches_numbers_and_text(full_api_client, source):
    send(source, user_id="a", traits={"age": 30})
    send(source, user_id="b", traits={"age": "30"})
    send(source, user_id="c", traits={"age": 1e300})
    assert len(full_api_client.get("/api/v1/customers/?trait=age:30").json()["results"]) == 2
    assert len(full_api_client.get("/api/v1/customers/?trait=age:1e300").json()["results"]) == 1


@pytest.mark.parametrize("parameter", ["source", "segment"])
@pytest.mark.parametrize("value", ["-100295930579137101824", "99999999999999999999", "1.5", "x"])
def test_id_filters_out_of_range_are_a_400(full_api_client, ann, parameter, value):
    body = assert_error(
        full_api_client.get(f"/api/v1/customers/?{parameter}={value}"), 400, "invalid"
    )
    assert parameter in body["details"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/profiles/user_id:%00/",
        "/api/v1/profiles/external_id:a%00b/",
        "/api/v1/profiles/user_id:%00/events/",
        "/api/v1/profiles/user_id:%00/consent/",
    ],
)
def test_nul_in_a_profile_address_is_a_400(full_api_client, ann, path):
    assert_error(full_api_client.get(path), 400, "invalid_character")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ('{"traits": {"score": 1e999}}', "number_out_of_range"),
        ('{"traits": {"score": NaN}}', "parse_error"),
        ('{"traits": {"name": "\\ud800"}}', "invalid_string"),
        ('{"traits": {"\\udc00": 1}}', "invalid_string"),
        ('{"traits": {"name": "a\\u0000"}}', "invalid_character"),
        ('{"traits": ' * 50_000 + "1" + "}" * 50_000, "parse_error"),
        ('{"traits": {"n": ' + "9" * 5000 + "}}", "number_out_of_range"),
    ],
)
def test_unstorable_json_body_is_a_400_and_changes_nothing(full_api_client, ann, raw, code):
    response = full_api_client.patch(
        "/api/v1/profiles/user_id:42/", raw, content_type="application/json"
    )
    assert_error(response, 400, code)
    assert Customer.objects.get(pk=ann.pk).traits == {"plan": "pro"}


def test_deeply_nested_body_on_any_endpoint_is_a_400(full_api_client, db):
    for path in ("/api/v1/sources/", "/api/v1/privacy-requests/", "/api/v1/profiles/lookup/"):
        response = full_api_client.post(path, "[" * 100_000, content_type="application/json")
        assert_error(response, 400, "parse_error")


# --- POST /api/v1/profiles/lookup/ ---------------------------------------------


@pytest.mark.parametrize("identifier", ["email:Ann@Example.com", "user_id:42", "external_id:crm/9"])
def test_lookup_answers_like_the_get(make_api_client, ann, identifier):
    client = make_api_client("profiles:read")
    response = client.post(
        "/api/v1/profiles/lookup/", {"identifier": identifier}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json() == client.get("/api/v1/profiles/user_id:42/").json()
    assert response.json()["id"] == ann.pk


def test_lookup_needs_profiles_read(make_api_client, ann):
    response = make_api_client("events:read").post(
        "/api/v1/profiles/lookup/", {"identifier": "user_id:42"}, content_type="application/json"
    )
    assert_error(response, 403, "missing_scope")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"identifier": "user_id:nobody"}, 404, "profile_not_found"),
        ({"identifier": "no-type"}, 400, "invalid_identifier"),
        ({"identifier": "shoe_size:42"}, 400, "unknown_identifier_type"),
        ({"identifier": "email:not-an-email"}, 400, "invalid_email"),
        ({"identifier": "user_id:\x00"}, 400, "invalid_character"),
        ({}, 400, "invalid"),
        ({"identifier": ["user_id:42"]}, 400, "invalid"),
    ],
)
def test_lookup_errors_have_the_one_shape(make_api_client, ann, body, status, code):
    response = make_api_client("profiles:read").post(
        "/api/v1/profiles/lookup/", json.dumps(body), content_type="application/json"
    )
    assert_error(response, status, code)


def test_lookup_is_post_only(make_api_client, ann):
    response = make_api_client("profiles:read").get("/api/v1/profiles/lookup/")
    assert_error(response, 405, "method_not_allowed")


def test_lookup_masks_contact_details_for_a_viewer(client, django_user_model, ann):
    from django.contrib.auth.models import Group

    from accounts.roles import VIEWER

    user = django_user_model.objects.create_user("viewer", password="pw-123456789", is_staff=True)
    user.groups.add(Group.objects.get(name=VIEWER))
    client.force_login(user)
    response = client.post(
        "/api/v1/profiles/lookup/", {"identifier": "user_id:42"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["email"] == "a•••@•••.com"


def test_lookup_answers_options(make_api_client, db):
    response = make_api_client("profiles:read").options("/api/v1/profiles/lookup/")
    assert response.status_code == 200
    assert "POST" in response.json()["actions"]


def test_lookup_is_in_the_schema(full_api_client, db):
    schema = full_api_client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/profiles/lookup/"]["post"]
    assert "profiles:read" in operation["description"]
    assert set(operation["responses"]) >= {"200", "400", "403", "404"}


# --- the segment builder's preview (admin) ---------------------------------------


def _preview(client, rule):
    return client.post(
        reverse("admin:segments_builder_preview"), {"rule": rule}, content_type="application/json"
    )


@pytest.mark.parametrize(
    "rule",
    [
        {"event": "Order Completed", "within_days": 10**12},
        {"field": "last_seen", "op": "within_last_days", "value": 10**12},
        {"trait": "signup", "op": "more_than_days_ago", "value": 10**9},
    ],
)
def test_preview_with_an_absurd_day_count_is_a_400(admin_client, rule):
    response = _preview(admin_client, rule)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == "invalid_rule"
    assert body["details"]["errors"][0]["code"] == "bad_value"


@pytest.mark.parametrize("op", ["after", "before"])
def test_preview_with_the_last_representable_day_works(admin_client, ann, op):
    response = _preview(admin_client, {"field": "last_seen", "op": op, "value": "9999-12-31"})
    assert response.status_code == 200
    assert response.json()["count"] == (1 if op == "before" else 0)


def test_preview_with_a_deeply_nested_body_is_a_400(admin_client):
    response = admin_client.post(
        reverse("admin:segments_builder_preview"), "[" * 100_000, content_type="application/json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "details"}


def test_too_many_query_parameters_get_the_error_shape_not_an_html_page(full_api_client, ann):
    query = "&".join(f"p{i}=1" for i in range(5000))  # over DATA_UPLOAD_MAX_NUMBER_FIELDS
    response = full_api_client.get(f"/api/v1/customers/?{query}")
    assert_error(response, 400, "bad_request")
