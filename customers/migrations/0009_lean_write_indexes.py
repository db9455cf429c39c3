"""Fewer indexes to maintain on the hottest write paths (events, history rows)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0008_groups_and_event_client_times"),
        ("sources", "0004_intake_and_rejections"),
    ]

    operations = [
        # Only the indexes go: dropping them by name keeps PostgreSQL from
        # re-adding (and re-validating) the foreign keys of the partitioned table.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="event",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="customers.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="event",
                    name="source",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="sources.source",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "customers_event_customer_id_85be2d97"',
                    'CREATE INDEX "customers_event_customer_id_85be2d97" '
                    'ON "customers_event" ("customer_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "customers_event_source_id_3fef550a"',
                    'CREATE INDEX "customers_event_source_id_3fef550a" '
                    'ON "customers_event" ("source_id")',
                ),
            ],
        ),
        migrations.AlterField(
            model_name="historicalcustomer",
            name="country",
            field=models.CharField(blank=True, help_text="ISO 3166-1 alpha-2", max_length=2),
        ),
        migrations.AlterField(
            model_name="historicalcustomer",
            name="email",
            field=models.EmailField(blank=True, max_length=254),
        ),
        migrations.AlterField(
            model_name="historicalcustomer",
            name="first_seen",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="historicalcustomer",
            name="last_name",
            field=models.CharField(blank=True, max_length=150),
        ),
        migrations.AlterField(
            model_name="historicalcustomer",
            name="merged_into",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="customers.customer",
            ),
        ),
        migrations.AlterField(
            model_name="historicalcustomer",
            name="phone",
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AlterField(
            model_name="historicalidentity",
            name="source",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="sources.source",
            ),
        ),
        migrations.AlterField(
            model_name="historicalidentity",
            name="type",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="customers.identifiertype",
            ),
        ),
    ]
