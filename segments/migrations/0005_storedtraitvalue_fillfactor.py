"""Stored trait values are rewritten in bulk (a daily run replaces most of
them): pages kept half empty let PostgreSQL write each new row version
beside the old one (a HOT update) instead of adding it to all three
indexes. In steady state the table holds two versions of a row between
vacuums anyway, so the space is the same."""

from django.db import migrations

TABLE = '"segments_storedtraitvalue"'


def half_full_pages(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} SET (fillfactor = 50)")


def full_pages(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("segments", "0004_membership_customer_index_once")]

    operations = [migrations.RunPython(half_full_pages, full_pages)]
