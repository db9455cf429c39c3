"""Signing secrets are stored encrypted (core.crypto); a migration encrypted the old ones."""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from consent.models import Purpose
from destinations.models import Destination
from destinations.services.dispatch import dispatch_outbox
from destinations.services.operations import rotate_secret
from tests.migrations import migrate, migrate_to_latest

from .conftest import make_destination, new_profile, verify_signature


def _stored_columns() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret, previous_secret FROM destinations_destination ORDER BY id")
        return cursor.fetchall()


def test_signing_secrets_are_stored_encrypted_and_still_sign(receiver, run_on_commit):
    destination, first = make_destination(receiver.url, on_profile_created=True)
    second = rotate_secret(destination=destination)

    [(stored, stored_previous)] = _stored_columns()
    assert first not in stored_previous
    assert second not in stored
    assert "whsec_" not in stored + stored_previous
    new_profile("ann@example.com")
    run_on_commit(dispatch_outbox)
    [request] = receiver.requests
    header = request.headers["Tributary-Signature"]
    assert verify_signature(header, request.body, second)
    assert verify_signature(header, request.body, first)


def test_the_admin_shows_a_rotated_secret_once(receiver, admin_client):
    destination, _ = make_destination(receiver.url)
    changelist = reverse("admin:destinations_destination_changelist")

    response = admin_client.post(
        changelist,
        {"action": "rotate_secrets", "_selected_action": [destination.pk]},
        follow=True,
    )

    destination.refresh_from_db()
    assert destination.secret in response.content.decode()
    page = admin_client.get(reverse("admin:destinations_destination_change", args=[destination.pk]))
    assert destination.secret not in page.content.decode()
    assert destination.previous_secret not in page.content.decode()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_migration_encrypts_existing_secrets_and_signing_keeps_working(receiver):
    legacy, previous = "whsec_legacy-clear-secret-4Xq9", "whsec_previous-clear-secret-7Lm2"
    old = migrate("destinations", "0003_destination_segments")
    old.get_model("destinations", "Destination").objects.create(
        name="Legacy CRM",
        url=receiver.url,
        purpose_id=Purpose.objects.get(code="analytics").pk,
        on_profile_created=True,
        secret=legacy,
        previous_secret=previous,
        previous_secret_expires_at=timezone.now() + timedelta(hours=1),
    )
    assert _stored_columns() == [(legacy, previous)]

    migrate_to_latest()

    [(stored, stored_previous)] = _stored_columns()
    assert legacy not in stored
    assert previous not in stored_previous
    assert (Destination.objects.get().secret, Destination.objects.get().previous_secret) == (
        legacy,
        previous,
    )
    new_profile("ann@example.com")
    dispatch_outbox()
    [request] = receiver.requests
    assert verify_signature(request.headers["Tributary-Signature"], request.body, legacy)
    assert verify_signature(request.headers["Tributary-Signature"], request.body, previous)

    migrate("destinations", "0003_destination_segments")  # reversible: back to clear text
    assert _stored_columns() == [(legacy, previous)]
    migrate_to_latest()
    assert Destination.objects.get().secret == legacy
