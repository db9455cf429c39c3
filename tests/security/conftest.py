"""Security suites: hostile input (every refusal is a 4xx with its error shape,
nothing valid is lost, nothing is left behind) and the role matrix (who may
read and change what; Viewers never see a contact detail)."""

import pytest
from django.contrib.auth.models import Group

from accounts.roles import DATA_STEWARD, MARKETER, VIEWER
from tests.api.conftest import full_api_client, make_api_client  # noqa: F401  (shared fixtures)
from tests.security.world import build_world
from tests.sources.conftest import keyed_source, send  # noqa: F401

PASSWORD = "pw-role-matrix-7"
ROLE_GROUPS = {"viewer": VIEWER, "marketer": MARKETER, "steward": DATA_STEWARD}


@pytest.fixture
def _fast_and_local(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TRIBUTARY_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.TRIBUTARY_WEBHOOK_TIMEOUT = 1


@pytest.fixture
def people(db, django_user_model, _fast_and_local):
    """One staff user per role, and a superuser."""
    users = {}
    for role, group in ROLE_GROUPS.items():
        user = django_user_model.objects.create_user(
            f"{role}-matrix", email=f"{role}@staff.invalid", password=PASSWORD, is_staff=True
        )
        user.groups.add(Group.objects.get(name=group))
        users[role] = user
    users["superuser"] = django_user_model.objects.create_superuser(
        "root-matrix", "root@staff.invalid", PASSWORD
    )
    return users


@pytest.fixture
def world(people, django_capture_on_commit_callbacks, tmp_path):
    # port 9 (discard) on loopback: nothing listens, so deliveries fail at once
    return build_world(
        superuser=people["superuser"],
        capture=django_capture_on_commit_callbacks,
        receiver_url="http://127.0.0.1:9/hooks/tributary",
        media=tmp_path,
    )
