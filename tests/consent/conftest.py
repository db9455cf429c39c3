import pytest
from django.utils import timezone

from customers.services.identity import resolve_identity


@pytest.fixture
def customer(db, source):
    return resolve_identity(
        identifiers=[("email", "ann@example.com")], source_id=source.pk, seen_at=timezone.now()
    ).customer


@pytest.fixture
def other_customer(db, source):
    return resolve_identity(
        identifiers=[("email", "bob@example.com")], source_id=source.pk, seen_at=timezone.now()
    ).customer


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
