"""No foreign-key constraint from a membership row to its profile: a first
compute of a 400,000-member segment paid 400,000 checks at commit (1.8 s at
1M profiles). Every membership row is inserted with a ``segment.entered``
outbox entry for the same profile in the same transaction, whose own check
stays, so a profile deleted meanwhile still fails one of the transactions;
deleting a profile deletes its rows (Django's cascade, the segments eraser).
The segment's constraint stays (one segment per compute, locked by it)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0021_profile_stamp"),
        ("segments", "0005_storedtraitvalue_fillfactor"),
    ]

    operations = [
        migrations.AlterField(
            model_name="segmentmembership",
            name="customer",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="segment_memberships",
                to="customers.customer",
            ),
        ),
    ]
