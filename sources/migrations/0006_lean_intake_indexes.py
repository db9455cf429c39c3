"""Intake rows: no source index of their own, (source, message_id) serves it."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sources", "0005_intake_pending_index"),
    ]

    operations = [
        # dropped by name: PostgreSQL keeps the foreign key as it is
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="intakemessage",
                    name="source",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="intake_messages",
                        to="sources.source",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "sources_intakemessage_source_id_46a78e2a"',
                    'CREATE INDEX "sources_intakemessage_source_id_46a78e2a" '
                    'ON "sources_intakemessage" ("source_id")',
                ),
            ],
        ),
    ]
