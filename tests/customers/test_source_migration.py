"""``Source`` moved from ``sources`` to ``customers`` without touching its tables."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

from accounts.roles import DATA_STEWARD
from customers.models import Source
from tests.migrations import migrate, migrate_to_latest

BEFORE = ("sources", "0007_import_job_event_name_and_column_reading")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_moving_source_keeps_rows_history_content_types_and_role_permissions():
    ContentType.objects.filter(
        app_label="customers", model__in=["source", "historicalsource"]
    ).delete()
    old = migrate("customers", "0013_outbox_moves_to_core", state_of=BEFORE)
    OldSource = old.get_model("sources", "Source")
    shop = OldSource.objects.create(name="Shop", kind="shop", write_key_hash="h" * 64)
    OldHistory = old.get_model("sources", "HistoricalSource")
    OldHistory.objects.create(
        id=shop.pk,
        name="Shop",
        kind="shop",
        write_key_prefix="",
        history_type="+",
        history_date=shop.created_at,
        created_at=shop.created_at,
        history_actor="user:ann",
    )
    source_type = ContentType.objects.create(app_label="sources", model="source")
    change = Permission.objects.create(
        content_type=source_type, codename="change_source", name="Can change source"
    )
    steward, _ = Group.objects.get_or_create(name=DATA_STEWARD)
    steward.permissions.add(change)

    migrate_to_latest()

    moved = Source.objects.get()
    assert (moved.pk, moved.name, moved.write_key_hash) == (shop.pk, "Shop", "h" * 64)
    assert list(moved.history.values_list("history_actor", flat=True)) == ["user:ann"]
    assert ContentType.objects.get(app_label="customers", model="source").pk == source_type.pk
    assert Permission.objects.get(codename="change_source").content_type_id == source_type.pk
    assert steward.permissions.filter(pk=change.pk).exists()
