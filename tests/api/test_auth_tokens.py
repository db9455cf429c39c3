"""Sign-in tokens (dj-rest-auth login) are stored as digests, like API keys."""

import hashlib
from importlib import import_module

import pytest
from django.db import connection
from django.test import Client

from accounts.models import AuthToken
from tests.api.conftest import assert_error
from tests.migrations import migrate, migrate_to_latest

SOURCES = "/api/v1/sources/"
LOGIN = "/api/v1/auth/login/"


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456789")


def _login(client=None):
    response = (client or Client()).post(
        LOGIN, {"username": "root", "password": "pw-123456789"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()["key"]


def _tables_holding(text: str) -> list[str]:
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            if any(text in repr(row) for row in cursor.fetchall()):
                found.append(table)
    return found


def test_login_returns_a_key_that_is_stored_only_as_its_digest(root):
    key = _login()

    token = AuthToken.objects.get()
    assert token.digest == hashlib.sha256(key.encode()).hexdigest()
    assert (token.user, token.prefix) == (root, key[:8])
    assert _tables_holding(key) == []
    assert Client(HTTP_AUTHORIZATION=f"Token {key}").get(SOURCES).status_code == 200


def test_each_login_gets_its_own_token_and_logout_deletes_only_that_one(root):
    first, second = _login(), _login()
    assert first != second

    response = Client(HTTP_AUTHORIZATION=f"Token {first}").post("/api/v1/auth/logout/")

    assert response.status_code == 200
    signed_out = Client(HTTP_AUTHORIZATION=f"Token {first}").get(SOURCES)
    assert_error(signed_out, 401, "authentication_failed")
    assert Client(HTTP_AUTHORIZATION=f"Token {second}").get(SOURCES).status_code == 200


@pytest.mark.parametrize("key", ["tok_not-a-real-token", "0" * 40, "é"])
def test_an_unknown_token_is_401(root, key):
    _login()
    response = Client(HTTP_AUTHORIZATION=f"Token {key}".encode().decode("latin-1")).get(SOURCES)
    assert_error(response, 401, "authentication_failed")


def test_a_deactivated_persons_token_stops_working(root):
    key = _login()
    root.is_active = False
    root.save(update_fields=["is_active"])
    response = Client(HTTP_AUTHORIZATION=f"Token {key}").get(SOURCES)
    assert_error(response, 401, "authentication_failed")


def _legacy_token_table(state):
    """The ``authtoken_token`` table as DRF's own migrations built it on older installs."""
    for name in ("0001_initial", "0002_auto_20160226_1747", "0003_tokenproxy"):
        module = import_module(f"rest_framework.authtoken.migrations.{name}")
        migration = module.Migration(name, "authtoken")
        with connection.schema_editor() as editor:
            state = migration.apply(state, editor)
    return state


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_migration_turns_clear_tokens_into_digests_so_signed_in_clients_keep_working(
    django_user_model,
):
    from django.db.migrations.executor import MigrationExecutor

    migrate("accounts", "0004_apikey_history_actor")
    state = MigrationExecutor(connection).loader.project_state(
        ("accounts", "0004_apikey_history_actor")
    )
    state = _legacy_token_table(state)
    legacy = state.apps.get_model("authtoken", "Token")
    try:
        user = django_user_model.objects.create_superuser("root", "r@example.com", "pw-123456789")
        # DRF's key format: 40 hex digits
        legacy.objects.create(key="9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", user_id=user.pk)

        migrate_to_latest()

        assert _tables_holding("9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b") == []
        token = AuthToken.objects.get()
        assert (token.user_id, token.prefix) == (user.pk, "9944b091")
        client = Client(HTTP_AUTHORIZATION="Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b")
        assert client.get(SOURCES).status_code == 200
    finally:
        with connection.schema_editor() as editor:
            editor.delete_model(legacy)
