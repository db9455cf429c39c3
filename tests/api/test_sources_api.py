from customers.models import Source
from sources.services.keys import authenticate_write_key, create_source
from tests.api.conftest import assert_error

SOURCES = "/api/v1/sources/"


def test_create_source_returns_its_write_key_once(full_api_client):
    response = full_api_client.post(
        SOURCES, {"name": "Shop", "kind": "shop"}, content_type="application/json"
    )
    assert response.status_code == 201
    body = response.json()
    source = Source.objects.get(name="Shop")
    assert body["id"] == source.pk
    assert body["kind"] == "shop"
    assert authenticate_write_key(body["write_key"]) == source
    again = full_api_client.get(f"{SOURCES}{source.pk}/").json()
    assert "write_key" not in again
    assert again["write_key_prefix"] == body["write_key"][:8]


def test_create_source_with_a_taken_name_is_409(full_api_client, source):
    response = full_api_client.post(
        SOURCES, {"name": source.name, "kind": "shop"}, content_type="application/json"
    )
    assert_error(response, 409, "conflict")


def test_rotate_key_replaces_the_write_key(full_api_client):
    source, old = create_source(name="App", kind="mobile")
    response = full_api_client.post(f"{SOURCES}{source.pk}/rotate-key/")
    assert response.status_code == 200
    new = response.json()["write_key"]
    assert authenticate_write_key(old) is None
    assert authenticate_write_key(new) == source


def test_rotate_key_of_unknown_source_is_404(full_api_client):
    assert_error(full_api_client.post(f"{SOURCES}999999/rotate-key/"), 404, "not_found")


def test_sources_need_the_admin_scope_for_every_action(make_api_client, source):
    api = make_api_client("profiles:read", "profiles:write")
    assert_error(api.get(SOURCES), 403, "missing_scope")
    assert_error(api.get(f"{SOURCES}{source.pk}/"), 403, "missing_scope")
    assert_error(api.post(f"{SOURCES}{source.pk}/rotate-key/"), 403, "missing_scope")
    created = api.post(SOURCES, {"name": "X", "kind": "crm"}, content_type="application/json")
    assert_error(created, 403, "missing_scope")


def test_list_is_cursor_paginated(full_api_client):
    for name in ("A", "B", "C"):
        create_source(name=name, kind="website")
    first = full_api_client.get(SOURCES, {"page_size": 2}).json()
    assert [s["name"] for s in first["results"]] == ["A", "B"]
    assert first["previous"] is None
    second = full_api_client.get(first["next"]).json()
    assert [s["name"] for s in second["results"]] == ["C"]
    assert second["next"] is None


def test_invalid_cursor_is_400(full_api_client):
    body = assert_error(full_api_client.get(SOURCES, {"cursor": "garbage"}), 400, "invalid")
    assert body["details"] == {"cursor": ["Invalid cursor."]}
