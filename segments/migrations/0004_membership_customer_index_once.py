"""The membership's single-column customer index goes: (customer, segment) leads with it.

Only the index is dropped (no foreign key rebuilt, so no re-validation of a
big table); the state change is the field's ``db_index=False``.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "segments_segmentmembership_customer_id_81d24cec"


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0017_source_personalization"),
        ("segments", "0003_segment_personalize"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX "{INDEX}" ON "segments_segmentmembership" '
                    '("customer_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="segmentmembership",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="segment_memberships",
                        to="customers.customer",
                    ),
                ),
            ],
        ),
    ]
