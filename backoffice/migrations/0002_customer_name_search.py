"""Name search on PostgreSQL: the fold function and a trigram index on the
folded name text (see backoffice/name_search.py). Nothing on SQLite, where
the fold function is registered on each connection instead."""

from django.db import migrations

INDEX_TEXT = "tributary_fold(first_name || ' ' || last_name || ' ' || company || ' ' || city)"

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # IMMUTABLE (unaccent itself is only STABLE, as its dictionary could
    # change): the dictionary is named, so the result depends on the text alone.
    "CREATE OR REPLACE FUNCTION tributary_fold(text) RETURNS text "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT "
    "AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$",
    f"CREATE INDEX IF NOT EXISTS customer_name_trgm ON customers_customer "
    f"USING gin ({INDEX_TEXT} gin_trgm_ops)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS customer_name_trgm",
    "DROP FUNCTION IF EXISTS tributary_fold(text)",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0001_daily_stats"),
        ("customers", "0012_vendor_identifier_types"),
    ]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
