"""A narrow per-profile counter for what other parts derive from a profile
(segment membership, stored traits), so that a segment entering 400,000
profiles no longer rewrites 400,000 wide profile rows and ten index entries
each (``customers.services.versions``). Its stamps are moved again and
again by recomputes: pages kept partly empty let PostgreSQL write each new
row version beside the old one (a HOT update, no new index entry)."""

import django.db.models.deletion
from django.db import migrations, models

TABLE = '"customers_profilestamp"'


def roomy_pages(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} SET (fillfactor = 70)")


def full_pages(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0020_customer_active_seen_partial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ProfileStamp",
            fields=[
                (
                    "customer",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="stamp",
                        serialize=False,
                        to="customers.customer",
                    ),
                ),
                ("stamp", models.PositiveBigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(roomy_pages, full_pages),
    ]
