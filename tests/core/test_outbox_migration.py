"""The outbox moved from ``customers`` to ``core`` without touching its table."""

import pytest
from django.contrib.contenttypes.models import ContentType

from core.models import OutboxEntry
from tests.migrations import migrate, migrate_to_latest


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_moving_the_outbox_keeps_its_rows_and_renames_its_content_type():
    ContentType.objects.filter(app_label="core", model="outboxentry").delete()
    old = migrate("core", "zero", state_of=("customers", "0012_vendor_identifier_types"))
    Customer = old.get_model("customers", "Customer")
    OldEntry = old.get_model("customers", "OutboxEntry")
    ann = Customer.objects.create(email="ann@example.com")
    OldEntry.objects.create(topic="profile.created", customer=ann, payload={"customer_id": ann.pk})
    old_type = ContentType.objects.create(app_label="customers", model="outboxentry")

    migrate_to_latest()

    entry = OutboxEntry.objects.get()
    assert (entry.topic, entry.customer_id, entry.payload) == (
        "profile.created",
        ann.pk,
        {"customer_id": ann.pk},
    )
    assert ContentType.objects.get(app_label="core", model="outboxentry").pk == old_type.pk
    assert not ContentType.objects.filter(app_label="customers", model="outboxentry").exists()
