"""The admin dashboard's figures, cheap on a million profiles.

Design: history (the charts' 30 days) comes from ``DailyStat`` rows, written
once per closed day (``backoffice.stats``). Live figures read only today's
events (timestamp index range) plus a handful of small aggregates (profiles
now, consent states, segment sizes kept by ``segments``). The whole result
is cached for ``DASHBOARD_CACHE_SECONDS`` (default 300): a warm dashboard
costs one cache read and no query on profiles or events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from backoffice.models import DailyStat
from backoffice.stats import WINDOW_DAYS, day_start, fill_daily_stats
from consent.models import ConsentState, Purpose
from customers.models import Customer, DataQualityIssue, Event, Source
from segments.models import Segment
from sources.models import ImportJob

CACHE_KEY = "backoffice:dashboard:v1"
Metric = DailyStat.Metric


@dataclass(frozen=True)
class SourceRow:
    name: str
    kind: str
    enabled: bool
    today: int
    week: int
    last_event: datetime | None


@dataclass(frozen=True)
class ConsentRow:
    name: str
    granted: int
    denied: int
    rate: float  # granted / active profiles, in percent


def dashboard_figures() -> dict:
    figures = cache.get(CACHE_KEY)
    if figures is None:
        figures = compute_figures(now=timezone.now())
        cache.set(CACHE_KEY, figures, timeout=settings.DASHBOARD_CACHE_SECONDS)
    return figures


def forget_dashboard() -> None:
    cache.delete(CACHE_KEY)


def compute_figures(*, now: datetime) -> dict:
    today = timezone.localdate(now)
    fill_daily_stats(today=today)
    history = _history(today)
    live = _today_by_source(today)
    profiles = Customer.objects.active().aggregate(
        total=Count("id"), identified=Count("id", filter=Q(is_identified=True))
    )
    events_today = sum(n for n, _ in live.values())
    week_days = [today - timedelta(days=n) for n in range(1, 7)]
    events_week = events_today + sum(history["events"].get(d, 0) for d in week_days)
    return {
        "computed_at": now,
        "profiles": profiles["total"],
        "identified": profiles["identified"],
        "anonymous": profiles["total"] - profiles["identified"],
        "events_today": events_today,
        "events_week": events_week,
        "sources": _sources(history, live, week_days),
        "consent": _consent(profiles["total"]),
        "rejected": _rejected(since=day_start(week_days[-1])),
        "segments": list(
            Segment.objects.filter(is_active=True)
            .order_by("-size", "name")
            .values_list("name", "size")[:10]
        ),
        "events_per_day": [(d, history["events"].get(d, 0)) for d in _window(today)]
        + [(today, events_today)],
        "profiles_per_day": [(d, history["profiles"].get(d, 0)) for d in _window(today)]
        + [(today, profiles["total"])],
    }


def _window(today: date) -> list[date]:
    return [today - timedelta(days=n) for n in range(WINDOW_DAYS, 0, -1)]


def _history(today: date) -> dict:
    out: dict[str, dict] = {m: {} for m in Metric.values}
    rows = DailyStat.objects.filter(day__gte=today - timedelta(days=WINDOW_DAYS), day__lt=today)
    for day, metric, key, value in rows.values_list("day", "metric", "key", "value"):
        out[metric][(day, key) if key else day] = value
    return out


def _today_by_source(today: date) -> dict[int, tuple[int, datetime]]:
    rows = (
        Event.objects.filter(timestamp__gte=day_start(today))
        .values("source_id")
        .annotate(n=Count("id"), last=Max("received_at"))
    )
    return {r["source_id"]: (r["n"], r["last"]) for r in rows}


def _sources(history: dict, live: dict, week_days: list[date]) -> list[SourceRow]:
    rows = []
    for source in Source.objects.order_by("name"):
        key = str(source.pk)
        today_n, last = live.get(source.pk, (0, None))
        week = today_n + sum(history[Metric.SOURCE_EVENTS].get((d, key), 0) for d in week_days)
        if last is None:
            stamps = [v for (d, k), v in history[Metric.SOURCE_LAST].items() if k == key]
            last = datetime.fromtimestamp(max(stamps), tz=UTC) if stamps else None
        rows.append(
            SourceRow(source.name, source.get_kind_display(), source.enabled, today_n, week, last)
        )
    return rows


def _rejected(*, since: datetime) -> dict[str, int]:
    """What did not make it in over the last 7 days: rejected import rows,
    failed import jobs, values refused by cleansing (data-quality issues)."""
    jobs = ImportJob.objects.filter(created_at__gte=since).aggregate(
        rows=Sum("rows_invalid"), failed=Count("id", filter=Q(status=ImportJob.Status.FAILED))
    )
    return {
        "import_rows": jobs["rows"] or 0,
        "import_jobs_failed": jobs["failed"],
        "quality_issues": DataQualityIssue.objects.filter(created_at__gte=since).count(),
    }


def _consent(active_profiles: int) -> list[ConsentRow]:
    counts: dict[int, dict[str, int]] = {}
    for row in ConsentState.objects.values("purpose_id", "state").annotate(n=Count("id")):
        counts.setdefault(row["purpose_id"], {})[row["state"]] = row["n"]
    rows = []
    for purpose in Purpose.objects.filter(is_active=True).order_by("name"):
        states = counts.get(purpose.pk, {})
        granted = states.get("granted", 0)
        denied = sum(n for state, n in states.items() if state != "granted")
        rate = round(100 * granted / active_profiles, 1) if active_profiles else 0.0
        rows.append(ConsentRow(purpose.name, granted, denied, rate))
    return rows
