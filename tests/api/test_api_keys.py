import io
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from accounts.models import ApiKey
from accounts.scopes import SCOPES
from accounts.services.api_keys import (
    InvalidScopes,
    authenticate_api_key,
    create_api_key,
    revoke_api_key,
    update_api_key,
)


def _all_text_in_database() -> str:
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            if "apikey" not in table and "user" not in table:
                continue
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - names from introspection
            chunks.extend(str(cell) for row in cursor.fetchall() for cell in row)
    return "\n".join(chunks)


def test_api_key_is_stored_only_as_a_digest(db):
    api_key, key = create_api_key(name="Shop", scopes=["profiles:read"])
    assert key not in _all_text_in_database()
    assert api_key.key_hash != key
    assert key.startswith(api_key.prefix)


def test_api_key_authenticates_and_a_changed_key_does_not(db):
    api_key, key = create_api_key(name="Shop", scopes=["profiles:read"])
    assert authenticate_api_key(key) == api_key
    assert authenticate_api_key(key[:-1]) is None
    assert authenticate_api_key("") is None


def test_revoked_api_key_no_longer_authenticates(db):
    api_key, key = create_api_key(name="Shop", scopes=["profiles:read"])
    assert revoke_api_key(api_key=api_key) is True
    assert authenticate_api_key(key) is None
    assert revoke_api_key(api_key=api_key) is False


def test_unknown_scope_is_refused(db):
    with pytest.raises(InvalidScopes, match="profiles:delete"):
        create_api_key(name="Shop", scopes=["profiles:read", "profiles:delete"])
    assert ApiKey.objects.count() == 0


def test_last_used_is_written_at_most_once_a_minute(db, settings):
    settings.TRIBUTARY_API_KEY_CACHE_SECONDS = 0  # each call reads the key's row
    api_key, key = create_api_key(name="Shop", scopes=["profiles:read"])
    authenticate_api_key(key)
    first = ApiKey.objects.get(pk=api_key.pk).last_used_at
    assert first is not None
    authenticate_api_key(key)
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == first
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=first - timedelta(minutes=2))
    authenticate_api_key(key)
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at > first - timedelta(minutes=1)


def test_each_key_acts_as_its_own_passwordless_account(db):
    api_key, _key = create_api_key(name="CRM sync", scopes=["profiles:read"])
    assert api_key.user.has_usable_password() is False
    assert api_key.user.is_staff is False
    assert api_key.user.is_active is False
    assert api_key.user.first_name == "CRM sync"


def test_create_api_key_prints_the_key_alone_on_the_last_line(db):
    out = io.StringIO()
    call_command(
        "create_api_key",
        "Shop backend",
        "--scope",
        "profiles:read",
        "--scope",
        "events:read",
        stdout=out,
    )
    last_line = out.getvalue().rstrip("\n").splitlines()[-1]
    api_key = authenticate_api_key(last_line)
    assert api_key is not None
    assert api_key.name == "Shop backend"
    assert api_key.scopes == ["profiles:read", "events:read"]


def test_create_api_key_with_all_scopes(db):
    out = io.StringIO()
    call_command("create_api_key", "Everything", "--all-scopes", stdout=out)
    api_key = authenticate_api_key(out.getvalue().rstrip("\n").splitlines()[-1])
    assert api_key.scopes == list(SCOPES)


def test_create_api_key_needs_a_scope(db):
    with pytest.raises(CommandError, match="--scope"):
        call_command("create_api_key", "Nothing", stdout=io.StringIO())


def test_create_api_key_rejects_unknown_scope(db):
    with pytest.raises(CommandError, match="unknown scope"):
        call_command("create_api_key", "Bad", "--scope", "root", stdout=io.StringIO())


def test_admin_creates_a_key_and_shows_it_once(admin_client):
    response = admin_client.post(
        "/admin/accounts/apikey/add/",
        {"name": "Webshop", "scopes": ["profiles:read", "profiles:write"]},
        follow=True,
    )
    assert response.status_code == 200
    api_key = ApiKey.objects.get(name="Webshop")
    shown = [str(m) for m in response.context["messages"]]
    key = shown[0].rsplit(" ", 1)[-1]
    assert authenticate_api_key(key) == api_key
    assert api_key.scopes == ["profiles:read", "profiles:write"]
    assert api_key.created_by.username == "boss"
    again = admin_client.get(f"/admin/accounts/apikey/{api_key.pk}/change/")
    assert key not in again.content.decode()


def test_admin_revoke_action_stops_the_key(admin_client):
    api_key, key = create_api_key(name="Old", scopes=["profiles:read"])
    response = admin_client.post(
        "/admin/accounts/apikey/",
        {"action": "revoke_keys", "_selected_action": [api_key.pk]},
        follow=True,
    )
    assert response.status_code == 200
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert api_key.revoked_at <= timezone.now()
    assert authenticate_api_key(key) is None


def test_admin_key_list_page_loads(admin_client):
    create_api_key(name="One", scopes=["profiles:read"])
    assert admin_client.get("/admin/accounts/apikey/").status_code == 200


def _later(monkeypatch, seconds: float) -> None:
    """Move the API key cache's clock ``seconds`` ahead."""
    import accounts.services.api_keys as api_keys

    now = time.monotonic()
    monkeypatch.setattr(api_keys, "_clock", lambda: now + seconds)


def test_working_key_is_checked_against_the_database_once_per_cache_time(
    db, settings, django_assert_num_queries, monkeypatch
):
    settings.TRIBUTARY_API_KEY_CACHE_SECONDS = 5
    api_key, key = create_api_key(name="Shop", scopes=["profiles:read"])
    assert authenticate_api_key(key) == api_key  # reads it, writes last_used_at
    with django_assert_num_queries(0):
        assert authenticate_api_key(key) == api_key
    _later(monkeypatch, 6)
    with django_assert_num_queries(1):
        assert authenticate_api_key(key) == api_key


def test_key_revoked_by_another_process_stops_working_within_the_cache_time(
    db, settings, monkeypatch
):
    settings.TRIBUTARY_API_KEY_CACHE_SECONDS = 5
    api_key, key = create_api_key(name="Shop", scopes=["profiles:read"])
    assert authenticate_api_key(key) is not None
    # another web process revokes it: this one's memory is not told
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())
    _later(monkeypatch, 4.9)
    assert authenticate_api_key(key) is not None  # the stated window
    _later(monkeypatch, 5.1)
    assert authenticate_api_key(key) is None


def test_key_revoked_in_this_process_stops_working_at_once(db, settings):
    settings.TRIBUTARY_API_KEY_CACHE_SECONDS = 300
    api_key, key = create_api_key(name="Shop", scopes=["profiles:read"])
    assert authenticate_api_key(key) is not None
    revoke_api_key(api_key=ApiKey.objects.get(pk=api_key.pk))
    assert authenticate_api_key(key) is None


def test_scope_change_applies_at_once_in_this_process(db, settings):
    settings.TRIBUTARY_API_KEY_CACHE_SECONDS = 300
    api_key, key = create_api_key(name="Shop", scopes=["profiles:read"])
    assert authenticate_api_key(key).scopes == ["profiles:read"]
    update_api_key(api_key=ApiKey.objects.get(pk=api_key.pk), name="Shop", scopes=[])
    assert authenticate_api_key(key).scopes == []


def test_unknown_keys_are_not_remembered(db, settings, django_assert_num_queries):
    settings.TRIBUTARY_API_KEY_CACHE_SECONDS = 300
    for _ in range(2):
        with django_assert_num_queries(1):
            assert authenticate_api_key("tk_" + "x" * 43) is None


def test_revoked_key_gets_401_over_http_within_the_cache_time(db, settings, monkeypatch):
    from django.test import Client

    settings.TRIBUTARY_API_KEY_CACHE_SECONDS = 5
    api_key, key = create_api_key(name="Shop", scopes=["profiles:read"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/customers/").status_code == 200
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())  # elsewhere
    _later(monkeypatch, 6)
    response = client.get("/api/v1/customers/")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
