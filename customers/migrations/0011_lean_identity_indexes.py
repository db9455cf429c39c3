"""Identity rows: no single-column indexes the composite ones already serve."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0010_lean_customer_indexes"),
    ]

    operations = [
        # Only the indexes go: dropping them by name keeps PostgreSQL from
        # re-adding (and re-validating) the foreign keys.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="identity",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="identities",
                        to="customers.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="identity",
                    name="type",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="identities",
                        to="customers.identifiertype",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "customers_identity_customer_id_b1e21f37"',
                    'CREATE INDEX "customers_identity_customer_id_b1e21f37" '
                    'ON "customers_identity" ("customer_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "customers_identity_type_id_6a7aaa54"',
                    'CREATE INDEX "customers_identity_type_id_6a7aaa54" '
                    'ON "customers_identity" ("type_id")',
                ),
            ],
        ),
    ]
