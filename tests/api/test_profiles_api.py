import pytest
from django.db.models import Max

from consent.services.consent import record_consent
from customers.models import Customer, Event, Source
from segments.services import add_to_static_segment, save_segment
from tests.api.conftest import assert_error, send


@pytest.fixture
def ann(source):
    return send(
        source,
        user_id="42",
        traits={"email": "ann@example.com", "firstName": "Ann", "plan": "pro"},
        external_ids=(("external_id", "crm-9"),),
    )


@pytest.mark.parametrize(
    "identifier",
    ["email:ann@example.com", "email:Ann@Example.com ", "user_id:42", "external_id:crm-9"],
)
def test_profile_is_found_by_any_identifier_normalized(make_api_client, ann, identifier):
    response = make_api_client("profiles:read").get(f"/api/v1/profiles/{identifier}/")
    assert response.status_code == 200
    assert response.json()["id"] == ann.pk


def test_profile_body_has_core_fields_traits_and_identities(make_api_client, ann):
    body = make_api_client("profiles:read").get("/api/v1/profiles/user_id:42/").json()
    assert body["email"] == "ann@example.com"
    assert body["first_name"] == "Ann"
    assert body["traits"] == {"plan": "pro"}
    assert sorted((i["type"], i["value"]) for i in body["identities"]) == [
        ("email", "ann@example.com"),
        ("external_id", "crm-9"),
        ("user_id", "42"),
    ]
    assert body["is_identified"] is True


def test_unknown_identifier_is_404(make_api_client, ann):
    response = make_api_client("profiles:read").get("/api/v1/profiles/email:bob@example.com/")
    assert_error(response, 404, "profile_not_found")


def test_unknown_identifier_type_is_400(make_api_client, ann):
    response = make_api_client("profiles:read").get("/api/v1/profiles/shoe_size:42/")
    assert_error(response, 400, "unknown_identifier_type")


def test_identifier_without_type_is_400(make_api_client, ann):
    response = make_api_client("profiles:read").get("/api/v1/profiles/ann@example.com/")
    assert_error(response, 400, "invalid_identifier")


def test_invalid_email_value_is_400_with_its_code(make_api_client, ann):
    response = make_api_client("profiles:read").get("/api/v1/profiles/email:not-an-email/")
    assert_error(response, 400, "invalid_email")


def test_identifier_of_a_merged_away_profile_reaches_the_survivor(make_api_client, source):
    first = send(source, user_id="u-1")
    second = send(source, anonymous_id="anon-7", at=None)
    assert first.pk != second.pk
    merged = send(source, user_id="u-1", anonymous_id="anon-7")
    absorbed = Customer.objects.exclude(pk=merged.pk).get()
    assert absorbed.merged_into_id == merged.pk
    api = make_api_client("profiles:read")
    assert api.get("/api/v1/profiles/anonymous_id:anon-7/").json()["id"] == merged.pk
    assert api.get("/api/v1/profiles/user_id:u-1/").json()["id"] == merged.pk


def test_reading_a_profile_needs_profiles_read(make_api_client, ann):
    response = make_api_client("events:read").get("/api/v1/profiles/user_id:42/")
    assert_error(response, 403, "missing_scope")


def test_patch_updates_traits_through_the_pipeline(make_api_client, ann):
    api = make_api_client("profiles:read", "profiles:write")
    response = api.patch(
        "/api/v1/profiles/email:ANN@example.com/",
        {"traits": {"plan": "enterprise", "lastName": "Lee"}},
        content_type="application/json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == ann.pk
    assert body["traits"] == {"plan": "enterprise"}
    assert body["last_name"] == "Lee"
    rest = Source.objects.get(kind="api")
    ann.refresh_from_db()
    assert ann.trait_provenance["traits.plan"]["source"] == rest.pk
    event = Event.objects.get(customer=ann, source=rest)
    assert event.type == "identify"


def test_patch_without_write_scope_is_403_and_changes_nothing(make_api_client, ann):
    response = make_api_client("profiles:read").patch(
        "/api/v1/profiles/user_id:42/",
        {"traits": {"plan": "free"}},
        content_type="application/json",
    )
    assert_error(response, 403, "missing_scope")
    ann.refresh_from_db()
    assert ann.traits == {"plan": "pro"}


def test_patch_unknown_profile_is_404_and_creates_nothing(make_api_client, ann):
    response = make_api_client("profiles:write").patch(
        "/api/v1/profiles/user_id:nobody/", {"traits": {"a": 1}}, content_type="application/json"
    )
    assert_error(response, 404, "profile_not_found")
    assert Customer.objects.count() == 1


@pytest.mark.parametrize("body", [{}, {"traits": {}}, {"traits": "pro"}, {"traits": [1]}])
def test_patch_needs_a_traits_object(make_api_client, ann, body):
    response = make_api_client("profiles:write").patch(
        "/api/v1/profiles/user_id:42/", body, content_type="application/json"
    )
    assert_error(response, 400, "invalid")


def test_patch_with_an_invalid_email_trait_is_400_not_a_silent_drop(make_api_client, ann):
    response = make_api_client("profiles:write").patch(
        "/api/v1/profiles/user_id:42/",
        {"traits": {"email": "nope", "plan": "free"}},
        content_type="application/json",
    )
    assert_error(response, 400, "invalid_email")
    ann.refresh_from_db()
    assert ann.traits == {"plan": "pro"}


def test_patch_put_is_not_allowed(make_api_client, ann):
    response = make_api_client("profiles:write").put(
        "/api/v1/profiles/user_id:42/", {"traits": {"a": 1}}, content_type="application/json"
    )
    assert_error(response, 405, "method_not_allowed")


def test_rest_writes_reuse_one_api_source(make_api_client, ann):
    api = make_api_client("profiles:write")
    for plan in ("a", "b"):
        api.patch(
            "/api/v1/profiles/user_id:42/",
            {"traits": {"plan": plan}},
            content_type="application/json",
        )
    assert Source.objects.filter(kind="api").count() == 1
    assert Event.objects.filter(customer=ann).aggregate(Max("id"))["id__max"] is not None


def test_profile_shows_consent_verdict_per_purpose(make_api_client, ann):
    record_consent(customer=ann, purpose="email_marketing", state="granted", method="api")
    body = make_api_client("profiles:read").get("/api/v1/profiles/user_id:42/").json()
    by_code = {p["code"]: p for p in body["consent"]}
    assert by_code["email_marketing"]["state"] == "granted"
    assert by_code["email_marketing"]["allowed"] is True
    assert by_code["sms_marketing"]["state"] is None
    assert by_code["sms_marketing"]["allowed"] is False


def test_profile_lists_the_segments_it_is_in(make_api_client, ann, source):
    vip = save_segment(name="VIP", kind="static")
    add_to_static_segment(segment=vip, customer_ids=[ann.pk])
    save_segment(name="Nobody", kind="static")
    body = make_api_client("profiles:read").get("/api/v1/profiles/user_id:42/").json()
    assert [(s["id"], s["name"]) for s in body["segments"]] == [(vip.pk, "VIP")]
