from django.db import migrations


def partition(apps, schema_editor):
    from customers.partitions import ensure_event_partitions, partition_events_table

    partition_events_table(schema_editor)
    ensure_event_partitions(months_back=24, months_ahead=3)


class Migration(migrations.Migration):
    """PostgreSQL only: events become a table partitioned by month (no-op on SQLite)."""

    atomic = True
    dependencies = [("customers", "0002_seed_identifier_types")]
    operations = [migrations.RunPython(partition, migrations.RunPython.noop, elidable=False)]
