import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

PASSWORD = "right-pw-123456"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff(db, django_user_model, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    return django_user_model.objects.create_user("sam", password=PASSWORD, is_staff=True)


def _login(client, username, password, ip="10.0.0.1"):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=ip,
    )


def test_correct_password_signs_in_below_the_limit(staff):
    client = Client()
    _login(client, "sam", "wrong")
    assert _login(client, "sam", PASSWORD).status_code == 302


def test_after_the_limit_even_the_right_password_is_refused(staff):
    client = Client()
    for _ in range(3):
        _login(client, "sam", "wrong")
    response = _login(client, "sam", PASSWORD)
    assert response.status_code == 200
    assert "Too many failed sign-ins. Try again in 15 minutes." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_address_and_user_name(staff):
    client = Client()
    for _ in range(3):
        _login(client, "sam", "wrong", ip="10.0.0.1")
    assert _login(Client(), "sam", PASSWORD, ip="10.0.0.2").status_code == 302


def test_successful_sign_in_resets_the_count(staff):
    client = Client()
    for _ in range(2):
        _login(client, "sam", "wrong")
    assert _login(client, "sam", PASSWORD).status_code == 302
    other = Client()
    for _ in range(2):
        _login(other, "sam", "wrong")
    assert _login(other, "sam", PASSWORD).status_code == 302


def test_api_session_login_is_throttled_too(staff):
    client = Client()
    for _ in range(3):
        client.post("/api/v1/auth/login/", {"username": "sam", "password": "wrong"})
    response = client.post("/api/v1/auth/login/", {"username": "sam", "password": PASSWORD})
    assert response.status_code == 400


def test_session_cookie_is_http_only_and_same_site_lax(staff, settings):
    response = _login(Client(), "sam", PASSWORD)
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
