"""Monthly range partitions of the events table on PostgreSQL.

The events table is the one that grows. On PostgreSQL it is partitioned by
``timestamp`` (one partition a month plus a default partition for stray
timestamps), so timeline and segment queries with a time window read only
the months they need (partition pruning), and retention drops whole months
instead of deleting rows. SQLite keeps a plain table; every function here
is a no-op there.

PostgreSQL requires unique constraints of a partitioned table to include
the partition key, so there the (source, message_id) uniqueness of events
is enforced as (source, message_id, timestamp); duplicates by message id are
already refused at intake.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db import connection, transaction

EVENT_TABLE = "customers_event"
DEFAULT_PARTITION = f"{EVENT_TABLE}_default"


@dataclass(frozen=True)
class PartitionReport:
    created: tuple[str, ...]
    dropped: tuple[str, ...]


def is_partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = %s",
            [EVENT_TABLE],
        )
        return cursor.fetchone() is not None


def month_start(day: date, offset: int = 0) -> date:
    index = day.year * 12 + (day.month - 1) + offset
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{EVENT_TABLE}_y{month.year:04d}m{month.month:02d}"


def existing_partitions() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = %s ORDER BY c.relname",
            [EVENT_TABLE],
        )
        return [row[0] for row in cursor.fetchall()]


def _timestamptz(day: date) -> str:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat()


def create_month_partition(month: date) -> bool:
    """Create the partition for ``month``; rows already in the default move in."""
    name = partition_name(month)
    if name in existing_partitions():
        return False
    start, end = _timestamptz(month), _timestamptz(month_start(month, 1))
    with transaction.atomic(), connection.cursor() as cursor:
        # A default partition holding rows of this range would make a plain
        # CREATE ... PARTITION OF fail, so build the table, move those rows
        # into it, then attach it.
        cursor.execute(f'CREATE TABLE "{name}" (LIKE "{EVENT_TABLE}" INCLUDING DEFAULTS)')
        cursor.execute(
            f'WITH moved AS (DELETE FROM "{DEFAULT_PARTITION}" '  # noqa: S608
            'WHERE "timestamp" >= %s AND "timestamp" < %s RETURNING *) '
            f'INSERT INTO "{name}" SELECT * FROM moved',
            [start, end],
        )
        cursor.execute(
            f'ALTER TABLE "{EVENT_TABLE}" ATTACH PARTITION "{name}" '
            f"FOR VALUES FROM ('{start}') TO ('{end}')"
        )
    return True


def ensure_event_partitions(
    *, months_back: int = 3, months_ahead: int = 3, today: date | None = None
) -> PartitionReport:
    """Make sure partitions exist from ``months_back`` ago to ``months_ahead`` on."""
    if not is_partitioned():
        return PartitionReport(created=(), dropped=())
    today = today or datetime.now(tz=UTC).date()
    created = [
        partition_name(month_start(today, offset))
        for offset in range(-months_back, months_ahead + 1)
        if create_month_partition(month_start(today, offset))
    ]
    return PartitionReport(created=tuple(created), dropped=())


def drop_expired_partitions(*, retention_months: int, today: date | None = None) -> PartitionReport:
    """Drop monthly partitions wholly older than the retention window (0 keeps all)."""
    if retention_months <= 0 or not is_partitioned():
        return PartitionReport(created=(), dropped=())
    today = today or datetime.now(tz=UTC).date()
    oldest_kept = partition_name(month_start(today, -retention_months))
    dropped = []
    with connection.cursor() as cursor:
        # Deferred foreign-key checks pending on a partition would block its drop.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for name in existing_partitions():
            if name != DEFAULT_PARTITION and name < oldest_kept:
                cursor.execute(f'DROP TABLE "{name}"')
                dropped.append(name)
        cursor.execute(
            f'DELETE FROM "{DEFAULT_PARTITION}" WHERE "timestamp" < %s',  # noqa: S608
            [_timestamptz(month_start(today, -retention_months))],
        )
    return PartitionReport(created=(), dropped=tuple(dropped))


def partition_events_table(schema_editor) -> None:
    """Turn the plain events table into a partitioned one, keeping every row and index."""
    if schema_editor.connection.vendor != "postgresql" or is_partitioned():
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "WHERE t.relname = %s AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
            [EVENT_TABLE],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "JOIN pg_class t ON t.oid = c.conrelid WHERE t.relname = %s AND c.contype = 'f'",
            [EVENT_TABLE],
        )
        foreign_keys = cursor.fetchall()
        old = f"{EVENT_TABLE}_unpartitioned"
        cursor.execute(f'ALTER TABLE "{EVENT_TABLE}" RENAME TO "{old}"')
        for index_name, _ in indexes:
            cursor.execute(f'ALTER INDEX "{index_name}" RENAME TO "{index_name[:55]}_old"')
        cursor.execute(
            "SELECT conname FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
            "WHERE t.relname = %s",
            [old],
        )
        for (constraint,) in cursor.fetchall():
            cursor.execute(
                f'ALTER TABLE "{old}" RENAME CONSTRAINT "{constraint}" TO "{constraint[:55]}_old"'
            )
        cursor.execute(
            f'CREATE TABLE "{EVENT_TABLE}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING IDENTITY) '
            'PARTITION BY RANGE ("timestamp")'
        )
        cursor.execute(
            f'ALTER TABLE "{EVENT_TABLE}" ADD CONSTRAINT "{EVENT_TABLE}_pkey" '
            'PRIMARY KEY (id, "timestamp")'
        )
        cursor.execute(
            f'ALTER TABLE "{EVENT_TABLE}" ADD CONSTRAINT "event_source_message_unique" '
            'UNIQUE (source_id, message_id, "timestamp")'
        )
        for name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE "{EVENT_TABLE}" ADD CONSTRAINT "{name}" {definition}')
        for _, definition in indexes:
            cursor.execute(definition)
        cursor.execute(f'CREATE TABLE "{DEFAULT_PARTITION}" PARTITION OF "{EVENT_TABLE}" DEFAULT')
        cursor.execute(f'INSERT INTO "{EVENT_TABLE}" SELECT * FROM "{old}"')  # noqa: S608
        max_id = f'COALESCE((SELECT max(id) FROM "{EVENT_TABLE}"), 0) + 1'  # noqa: S608
        sequence = f"pg_get_serial_sequence('{EVENT_TABLE}', 'id')"
        cursor.execute(f"SELECT setval({sequence}, {max_id}, false)")
        cursor.execute(f'DROP TABLE "{old}"')
