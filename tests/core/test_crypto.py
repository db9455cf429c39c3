"""core.crypto and core.fields: one encryption helper, rotating keys."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.management import CommandError, call_command

from core import crypto
from core.crypto import DecryptionError, decrypt, encrypt, parse_keys
from destinations.models import Destination


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings):
    settings.TRIBUTARY_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]


@pytest.fixture
def old_key():
    return crypto.generate_key()


@pytest.fixture
def new_key():
    return crypto.generate_key()


def test_encrypt_round_trips_and_never_stores_the_clear_text(settings, old_key):
    settings.TRIBUTARY_ENCRYPTION_KEYS = [old_key]
    token = encrypt("whsec_s3cr3t-Zoë")
    assert "s3cr3t" not in token
    assert token != encrypt("whsec_s3cr3t-Zoë")  # a fresh IV each time
    assert decrypt(token) == "whsec_s3cr3t-Zoë"


def test_every_configured_key_decrypts_the_first_encrypts(settings, old_key, new_key):
    settings.TRIBUTARY_ENCRYPTION_KEYS = [old_key]
    old_token = encrypt("secret")
    settings.TRIBUTARY_ENCRYPTION_KEYS = [new_key, old_key]
    assert decrypt(old_token) == "secret"
    Fernet(new_key.encode()).decrypt(encrypt("secret").encode())  # raises if not the new key


def test_a_value_under_an_unknown_key_is_a_decryption_error(settings, old_key, new_key):
    settings.TRIBUTARY_ENCRYPTION_KEYS = [old_key]
    token = encrypt("secret")
    settings.TRIBUTARY_ENCRYPTION_KEYS = [new_key]
    with pytest.raises(DecryptionError):
        decrypt(token)
    with pytest.raises(DecryptionError):
        decrypt("whsec_not-a-token")


def test_no_key_configured_refuses_to_encrypt(settings):
    settings.TRIBUTARY_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="TRIBUTARY_ENCRYPTION_KEYS is not set"):
        encrypt("secret")


@pytest.mark.parametrize("bad", ["short", "x" * 44, "MDEyMzQ1Njc4OWFiY2RlZg==", "clé-" * 11])
def test_malformed_keys_are_refused_without_quoting_them(bad):
    with pytest.raises(ImproperlyConfigured) as refused:
        parse_keys([crypto.generate_key(), bad])
    assert "key 2 is not a Fernet key" in str(refused.value)
    assert bad not in str(refused.value)


def test_development_key_is_derived_from_the_secret_key_and_valid():
    key = crypto.development_key("some secret key")
    assert parse_keys([key]) == [key]
    assert key == crypto.development_key("some secret key")
    assert key != crypto.development_key("another secret key")


def test_tests_run_with_the_development_key(settings):
    assert [crypto.development_key(settings.SECRET_KEY)] == settings.TRIBUTARY_ENCRYPTION_KEYS
    assert crypto.is_development_key_in_use()


def test_an_encrypted_column_cannot_be_searched(db):
    with pytest.raises(ValueError, match="only be compared with ''"):
        list(Destination.objects.filter(secret="whsec_guess"))
    with pytest.raises(FieldError):
        list(Destination.objects.filter(secret__startswith="whsec_"))
    assert list(Destination.objects.filter(previous_secret="")) == []


def _stored_tokens():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret, previous_secret FROM destinations_destination")
        return cursor.fetchall()


def test_rotate_encryption_key_re_encrypts_every_stored_secret(settings, db, old_key, new_key):
    from destinations.services.operations import rotate_secret, save_destination

    settings.TRIBUTARY_ENCRYPTION_KEYS = [old_key]
    first = Destination(name="CRM", url="https://127.0.0.1/crm")
    save_destination(destination=first)
    second = Destination(name="Shop", url="https://127.0.0.1/shop")
    save_destination(destination=second)
    current = rotate_secret(destination=second)
    secrets_before = sorted(Destination.objects.values_list("secret", flat=True))

    settings.TRIBUTARY_ENCRYPTION_KEYS = [new_key, old_key]
    out = io.StringIO()
    call_command("rotate_encryption_key", stdout=out)

    assert "destinations.Destination.secret: 2 re-encrypted" in out.getvalue()
    assert "destinations.Destination.previous_secret: 1 re-encrypted" in out.getvalue()
    settings.TRIBUTARY_ENCRYPTION_KEYS = [new_key]  # the old key can go now
    assert sorted(Destination.objects.values_list("secret", flat=True)) == secrets_before
    assert Destination.objects.get(name="Shop").secret == current
    again = io.StringIO()
    call_command("rotate_encryption_key", stdout=again)
    assert again.getvalue().strip().endswith("0 secret(s) re-encrypted with the newest key")
    for secret, previous in _stored_tokens():
        assert not secret.startswith("whsec_")
        assert previous == "" or not previous.startswith("whsec_")


def test_rotate_refuses_when_a_stored_secret_matches_no_key(settings, db, old_key, new_key):
    from destinations.services.operations import save_destination

    settings.TRIBUTARY_ENCRYPTION_KEYS = [old_key]
    save_destination(destination=Destination(name="CRM", url="https://127.0.0.1/crm"))
    settings.TRIBUTARY_ENCRYPTION_KEYS = [new_key]  # the old key was dropped too early
    with pytest.raises(CommandError, match="no key in TRIBUTARY_ENCRYPTION_KEYS matches"):
        call_command("rotate_encryption_key", stdout=io.StringIO())
