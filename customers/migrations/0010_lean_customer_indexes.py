"""Fewer indexes on the profile row, which every event of a known person rewrites."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


# (Django's name, the new name, the column)
_RENAMED = (
    ("customers_customer_email_300e404b", "customer_email", "email"),
    ("customers_customer_country_68cecba2", "customer_country", "country"),
)


def _rename_indexes(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    for old, new, column in _RENAMED:
        if postgres:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{old}_like"')
            schema_editor.execute(f'ALTER INDEX IF EXISTS "{old}" RENAME TO "{new}"')
        else:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{old}"')
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{new}" ON "customers_customer" ("{column}")'
        )


def _restore_indexes(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    for old, new, column in _RENAMED:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{new}"')
        schema_editor.execute(f'CREATE INDEX "{old}" ON "customers_customer" ("{column}")')
        if postgres:
            pattern_ops = f'"{column}" varchar_pattern_ops'
            schema_editor.execute(f'CREATE INDEX "{old}_like" ON "customers_customer" ({pattern_ops})')


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0009_lean_write_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="customer",
            name="last_name",
            field=models.CharField(blank=True, max_length=150),
        ),
        migrations.AlterField(
            model_name="customer",
            name="last_seen",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        # Only the index goes: dropping it by name keeps PostgreSQL from
        # re-adding (and re-validating) the self-referencing foreign key.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="customer",
                    name="merged_into",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="absorbed",
                        to="customers.customer",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "customers_customer_merged_into_id_2994ddb6"',
                    'CREATE INDEX "customers_customer_merged_into_id_2994ddb6" '
                    'ON "customers_customer" ("merged_into_id")',
                ),
            ],
        ),
        # email and country keep their index under a new name (renamed, not
        # rebuilt, on PostgreSQL) and lose its varchar_pattern_ops copy
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="customer",
                    name="country",
                    field=models.CharField(
                        blank=True, help_text="ISO 3166-1 alpha-2", max_length=2
                    ),
                ),
                migrations.AlterField(
                    model_name="customer",
                    name="email",
                    field=models.EmailField(blank=True, max_length=254),
                ),
                migrations.AddIndex(
                    model_name="customer",
                    index=models.Index(fields=["email"], name="customer_email"),
                ),
                migrations.AddIndex(
                    model_name="customer",
                    index=models.Index(fields=["country"], name="customer_country"),
                ),
            ],
            database_operations=[migrations.RunPython(_rename_indexes, _restore_indexes)],
        ),
    ]
