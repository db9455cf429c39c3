"""Writing the dashboard's daily figures (``DailyStat``).

A closed day's figures do not change, so each is computed once, in one
batch for all the days still missing from the chart window: one GROUP BY
over those days' events (by day and source, on the timestamp index) and one
over profiles first seen in the window. ``manage.py refresh_dashboard_stats``
(or the dashboard itself, when it finds days missing) calls
``fill_daily_stats``; the figures of a day already written are kept.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Count, Max, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from backoffice.models import DailyStat
from customers.models import Customer, Event

WINDOW_DAYS = 30
Metric = DailyStat.Metric


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def missing_days(*, today: date, days: int = WINDOW_DAYS) -> list[date]:
    window = [today - timedelta(days=n) for n in range(days, 0, -1)]
    done = set(
        DailyStat.objects.filter(
            metric=Metric.EVENTS, day__gte=window[0], day__lt=today
        ).values_list("day", flat=True)
    )
    return [d for d in window if d not in done]


def fill_daily_stats(*, today: date | None = None, days: int = WINDOW_DAYS) -> int:
    """Write the figures of the closed days of the window that lack them."""
    today = today or timezone.localdate()
    missing = missing_days(today=today, days=days)
    if missing:
        _write_days(missing)
    return len(missing)


@transaction.atomic
def _write_days(missing: list[date]) -> None:
    first, end = day_start(missing[0]), day_start(missing[-1] + timedelta(days=1))
    rows: dict[tuple[date, str, str], int] = {}
    for day in missing:
        rows[(day, Metric.EVENTS, "")] = 0
    per_source = (
        Event.objects.filter(timestamp__gte=first, timestamp__lt=end)
        .annotate(day=TruncDate("timestamp"))
        .values("day", "source_id")
        .annotate(n=Count("id"), last=Max("received_at"))
    )
    wanted = set(missing)
    for row in per_source:
        if row["day"] not in wanted:
            continue
        rows[(row["day"], Metric.EVENTS, "")] += row["n"]
        rows[(row["day"], Metric.SOURCE_EVENTS, str(row["source_id"]))] = row["n"]
        rows[(row["day"], Metric.SOURCE_LAST, str(row["source_id"]))] = int(row["last"].timestamp())
    _profile_rows(rows, missing=missing, first=first, end=end)
    DailyStat.objects.filter(day__in=missing).delete()
    DailyStat.objects.bulk_create(  # a concurrent request may have written them
        (
            DailyStat(day=day, metric=metric, key=key, value=value)
            for (day, metric, key), value in rows.items()
        ),
        ignore_conflicts=True,
    )


def _profile_rows(rows, *, missing: list[date], first: datetime, end: datetime) -> None:
    active = Customer.objects.filter(merged_into__isnull=True)
    counts = Count("id"), Count("id", filter=Q(is_identified=True))
    before = active.filter(first_seen__lt=first).aggregate(total=counts[0], identified=counts[1])
    by_day = {
        row["day"]: row
        for row in active.filter(first_seen__gte=first, first_seen__lt=end)
        .annotate(day=TruncDate("first_seen"))
        .values("day")
        .annotate(total=counts[0], identified=counts[1])
    }
    total, identified = before["total"], before["identified"]
    wanted = set(missing)
    day = missing[0]
    while day <= missing[-1]:
        total += by_day.get(day, {}).get("total", 0)
        identified += by_day.get(day, {}).get("identified", 0)
        if day in wanted:
            rows[(day, Metric.PROFILES, "")] = total
            rows[(day, Metric.IDENTIFIED, "")] = identified
        day += timedelta(days=1)
