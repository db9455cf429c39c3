"""``OutboxEntry`` now belongs to ``core`` (see core 0001); state only, the table stays."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0012_vendor_identifier_types"),
        ("core", "0001_outbox_moves_to_core"),
        # deliveries must point at core.OutboxEntry before this one leaves the state
        ("destinations", "0005_outbox_in_core"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="OutboxEntry")],
            database_operations=[],
        ),
    ]
