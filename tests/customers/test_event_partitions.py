import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from customers.models import Customer, Event
from customers.partitions import (
    DEFAULT_PARTITION,
    create_month_partition,
    drop_expired_partitions,
    existing_partitions,
    is_partitioned,
    partition_name,
)


def _event(source, customer, at, message_id):
    return Event.objects.create(
        source=source,
        customer=customer,
        type="track",
        name="Order Completed",
        timestamp=at,
        message_id=message_id,
    )


def _partition_of(event_id) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM customers_event WHERE id = %s", [event_id]
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres_only
def test_events_land_in_their_month_partition(source):
    ann = Customer.objects.create()
    now = timezone.now()
    event = _event(source, ann, now, "m-1")
    assert is_partitioned()
    assert _partition_of(event.pk) == partition_name(date(now.year, now.month, 1))


@pytest.mark.postgres_only
def test_far_future_event_goes_to_default_then_moves_into_new_partition(source):
    ann = Customer.objects.create()
    far = datetime(2031, 5, 17, tzinfo=UTC)
    event = _event(source, ann, far, "m-far")
    assert _partition_of(event.pk) == DEFAULT_PARTITION
    assert create_month_partition(date(2031, 5, 1)) is True
    assert _partition_of(event.pk) == "customers_event_y2031m05"
    assert Event.objects.get(pk=event.pk).message_id == "m-far"


@pytest.mark.postgres_only
def test_windowed_event_query_prunes_old_partitions(source):
    ann = Customer.objects.create()
    _event(source, ann, timezone.now(), "m-2")
    since = timezone.now() - timedelta(days=30)
    query = Event.objects.filter(name="Order Completed", timestamp__gte=since).values("customer_id")
    with connection.cursor() as cursor:
        sql, params = query.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    monthly = [name for name in existing_partitions() if name != DEFAULT_PARTITION]
    scanned = [name for name in monthly if name in plan]
    first_needed = partition_name(date(since.year, since.month, 1))
    assert len(monthly) > 20
    assert scanned
    assert min(scanned) == first_needed  # nothing older than the window is read


@pytest.mark.postgres_only
def test_retention_drops_whole_expired_months(source):
    ann = Customer.objects.create()
    today = timezone.now().date()
    old_at = datetime(today.year - 2, today.month, 1, tzinfo=UTC) + timedelta(days=3)
    _event(source, ann, old_at, "m-old")
    recent = _event(source, ann, timezone.now(), "m-new")
    report = drop_expired_partitions(retention_months=12)
    assert partition_name(old_at.date().replace(day=1)) in report.dropped
    assert list(Event.objects.values_list("pk", flat=True)) == [recent.pk]


@pytest.mark.postgres_only
def test_maintenance_command_creates_upcoming_months(db):
    out = io.StringIO()
    call_command("manage_event_partitions", "--months-ahead", "6", stdout=out)
    today = timezone.now().date()
    index = today.year * 12 + today.month - 1 + 6
    assert partition_name(date(index // 12, index % 12 + 1, 1)) in existing_partitions()


def test_sqlite_keeps_a_plain_events_table(db):
    if connection.vendor == "postgresql":
        pytest.skip("SQLite behaviour")
    out = io.StringIO()
    call_command("manage_event_partitions", stdout=out)
    assert "not partitioned" in out.getvalue()
    assert is_partitioned() is False
