from datetime import date

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.roles import DATA_STEWARD, MARKETER, VIEWER
from sources.demo.generate import seed_demo

ROLE_GROUPS = {"marketer": MARKETER, "steward": DATA_STEWARD, "viewer": VIEWER}


@pytest.fixture
def demo(db):
    seed_demo(customers=60, seed=3, anchor=date(2026, 6, 1))


@pytest.fixture
def role_client(db, django_user_model):
    """``role_client("viewer")``: a test client signed in as a staff user of that role."""

    def _client(role: str) -> Client:
        user = django_user_model.objects.create_user(role, password="pw-123456789", is_staff=True)
        user.groups.add(Group.objects.get(name=ROLE_GROUPS[role]))
        client = Client()
        client.force_login(user)
        return client

    return _client


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
