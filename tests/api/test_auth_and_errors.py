import json

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.services.api_keys import create_api_key, revoke_api_key
from tests.api.conftest import assert_error

SOURCES = "/api/v1/sources/"


def test_request_without_credentials_is_401_with_bearer_challenge(db):
    response = Client().get(SOURCES)
    body = assert_error(response, 401, "not_authenticated")
    assert "credentials" in body["message"].lower()
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_wrong_key_is_401(db):
    response = Client(HTTP_AUTHORIZATION="Bearer tk_not-a-real-key").get(SOURCES)
    assert_error(response, 401, "invalid_api_key")


def test_malformed_bearer_header_is_401(db):
    response = Client(HTTP_AUTHORIZATION="Bearer two parts").get(SOURCES)
    assert_error(response, 401, "invalid_api_key")


def test_revoked_key_is_401(db):
    api_key, key = create_api_key(name="Gone", scopes=["sources:admin"])
    revoke_api_key(api_key=api_key)
    response = Client(HTTP_AUTHORIZATION=f"Bearer {key}").get(SOURCES)
    assert_error(response, 401, "invalid_api_key")


def test_key_without_the_scope_is_403_naming_it(make_api_client):
    response = make_api_client("profiles:read").get(SOURCES)
    body = assert_error(response, 403, "missing_scope")
    assert body["details"] == {
        "required_scopes": ["sources:admin"],
        "missing_scopes": ["sources:admin"],
    }


def test_key_with_the_scope_is_allowed(make_api_client):
    assert make_api_client("sources:admin").get(SOURCES).status_code == 200


def test_signed_in_person_without_permission_is_403(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="pw-123456789")
    client.force_login(user)
    assert_error(client.get(SOURCES), 403, "missing_scope")


def test_signed_in_person_with_model_permissions_is_allowed(client, django_user_model):
    user = django_user_model.objects.create_user("steward", password="pw-123456789")
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="customers", codename__in=["add_source", "change_source"]
        )
    )
    client.force_login(user)
    assert client.get(SOURCES).status_code == 200


def test_token_login_works_like_a_session(client, django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456789")
    login = client.post(
        "/api/v1/auth/login/",
        {"username": "root", "password": "pw-123456789"},
        content_type="application/json",
    )
    token = login.json()["key"]
    assert Client(HTTP_AUTHORIZATION=f"Token {token}").get(SOURCES).status_code == 200


def test_unknown_api_path_is_404_json(full_api_client):
    body = assert_error(full_api_client.get("/api/v1/nothing-here/"), 404, "not_found")
    assert "/api/v1/nothing-here/" in body["message"]


def test_unknown_api_path_is_404_json_even_anonymous(db):
    assert_error(Client().get("/api/v2/"), 404, "not_found")


def test_wrong_method_is_405(full_api_client):
    assert_error(full_api_client.delete(SOURCES), 405, "method_not_allowed")


def test_malformed_json_is_400(full_api_client):
    response = full_api_client.post(SOURCES, "{nope", content_type="application/json")
    assert_error(response, 400, "parse_error")


def test_validation_errors_list_fields_in_details(full_api_client):
    response = full_api_client.post(SOURCES, {"kind": "fax"}, content_type="application/json")
    body = assert_error(response, 400, "invalid")
    assert set(body["details"]) == {"name", "kind"}


def test_unsupported_media_type_is_415(full_api_client):
    response = full_api_client.post(SOURCES, "name=x", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_only_json_is_offered_406(full_api_client):
    response = full_api_client.get(SOURCES, HTTP_ACCEPT="text/html")
    assert_error(response, 406, "not_acceptable")


def test_body_over_the_limit_is_413(full_api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    body = json.dumps({"name": "x" * 200, "kind": "website"})
    response = full_api_client.post(SOURCES, body, content_type="application/json")
    assert_error(response, 413, "payload_too_large")


def test_throttled_key_gets_429_with_retry_after(make_api_client, settings):
    settings.TRIBUTARY_API_RATE = "2/minute"
    api = make_api_client("sources:admin")
    assert [api.get(SOURCES).status_code for _ in range(2)] == [200, 200]
    response = api.get(SOURCES)
    body = assert_error(response, 429, "throttled")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert body["details"]["retry_after"] == int(response.headers["Retry-After"])


def test_throttle_counts_each_key_separately(make_api_client, settings):
    settings.TRIBUTARY_API_RATE = "1/minute"
    first, second = make_api_client("sources:admin"), make_api_client("sources:admin")
    assert first.get(SOURCES).status_code == 200
    assert first.get(SOURCES).status_code == 429
    assert second.get(SOURCES).status_code == 200


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_schema_and_docs_are_served(db, path):
    assert Client().get(path).status_code == 200


def test_schema_documents_the_error_shape_and_bearer_auth(db):
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {
        "code",
        "message",
        "details",
    }
    list_op = schema["paths"]["/api/v1/sources/"]["get"]
    assert {"401", "403", "429"} <= set(list_op["responses"])
    assert "sources:admin" in list_op["description"]


def test_api_keys_cannot_use_the_people_sign_in_endpoints(full_api_client):
    assert_error(full_api_client.get("/api/v1/auth/user/"), 401, "not_authenticated")
    response = full_api_client.post(
        "/api/v1/auth/password/change/",
        {"new_password1": "x-Secret-123456", "new_password2": "x-Secret-123456"},
        content_type="application/json",
    )
    assert_error(response, 401, "not_authenticated")


def test_post_to_an_unknown_api_path_is_404_json_not_a_csrf_page(db):
    response = Client(enforce_csrf_checks=True).post("/api/v1/sources/0.5/rotate-key/")
    assert_error(response, 404, "not_found")


def test_logout_is_post_only(client, django_user_model):
    user = django_user_model.objects.create_user("someone", password="pw-123456789")
    client.force_login(user)
    assert_error(client.get("/api/v1/auth/logout/"), 405, "method_not_allowed")
    assert client.post("/api/v1/auth/logout/").status_code == 200
