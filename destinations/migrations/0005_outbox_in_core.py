"""Deliveries point at the outbox's new home (``core``); same table, state only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_outbox_moves_to_core"),
        ("destinations", "0004_encrypt_signing_secrets"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="delivery",
                    name="outbox_entry",
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="deliveries", to="core.outboxentry"),
                ),
            ],
            database_operations=[],
        ),
    ]
