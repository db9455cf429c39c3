"""The admin dashboard's figures, cheap on a million profiles.

Design: history (the charts' days) comes from ``DailyStat`` rows, written
once per closed day (``backoffice.stats``). Live figures read only today's
events (timestamp index range) plus a handful of small aggregates (profiles
now, consent states, segment sizes kept by ``segments``). The whole result
is cached for ``DASHBOARD_CACHE_SECONDS`` (default 300) per period: a warm
dashboard costs two cache reads and no query on profiles or events.

The period is chosen on the page (``PeriodForm``: the last 7, 30, 90 or 365
days, or two dates, at most ``MAX_PERIOD_DAYS`` long and not before
``EARLIEST_DAYS`` ago); its figures are compared with the period of the
same length just before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from backoffice.models import DailyStat
from backoffice.stats import day_start, fill_daily_stats
from consent.models import ConsentState, Purpose
from customers.models import Customer, DataQualityIssue, Event, Source
from segments.models import Segment
from sources.models import ImportJob

CACHE_KEY = "backoffice:dashboard:v2"
GENERATION_KEY = "backoffice:dashboard:generation"
Metric = DailyStat.Metric
PRESETS = (7, 30, 90, 365)
DEFAULT_DAYS = 30
MAX_PERIOD_DAYS = 366
EARLIEST_DAYS = 2 * 366  # a period starts at most two years back (its previous one, four)


@dataclass(frozen=True)
class Period:
    """Days ``start`` to ``end``, both included."""

    start: date
    end: date

    @classmethod
    def last(cls, days: int, *, today: date) -> Period:
        return cls(today - timedelta(days=days - 1), today)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> Period:
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def each_day(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(self.days)]


class PeriodForm(forms.Form):
    """The dashboard's period, from the page's query string: ``days`` (a
    preset) or ``start`` and ``end``. Anything else is a form error shown
    above the figures, which then cover the default period."""

    days = forms.TypedChoiceField(
        choices=[(n, f"Last {n} days") for n in PRESETS], coerce=int, required=False
    )
    start = forms.DateField(required=False, label="From")
    end = forms.DateField(required=False, label="To")

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if self.errors or (start is None and end is None):
            return cleaned
        if start is None or end is None:
            raise forms.ValidationError("Give both dates of the period.", code="incomplete")
        if start > end:
            raise forms.ValidationError("The period ends before it starts.", code="reversed")
        if end > self.today:
            raise forms.ValidationError("The period cannot end in the future.", code="future")
        if (end - start).days + 1 > MAX_PERIOD_DAYS:
            raise forms.ValidationError(
                f"A period is at most {MAX_PERIOD_DAYS} days long.", code="too_long"
            )
        if start < self.today - timedelta(days=EARLIEST_DAYS):
            raise forms.ValidationError(
                f"A period starts at most {EARLIEST_DAYS} days back.", code="too_early"
            )
        return cleaned

    def period(self) -> Period:
        """The chosen period (the default one when the form is not valid)."""
        if self.is_bound and self.is_valid():
            data = self.cleaned_data
            if data.get("start") and data.get("end"):
                return Period(data["start"], data["end"])
            if data.get("days"):
                return Period.last(data["days"], today=self.today)
        return Period.last(DEFAULT_DAYS, today=self.today)


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


def dashboard_figures(period: Period | None = None) -> dict:
    now = timezone.now()
    period = period or Period.last(DEFAULT_DAYS, today=timezone.localdate(now))
    generation = cache.get(GENERATION_KEY, 0)
    key = f"{CACHE_KEY}:{generation}:{period.start}:{period.end}"
    figures = cache.get(key)
    if figures is None:
        figures = compute_figures(now=now, period=period)
        cache.set(key, figures, timeout=settings.DASHBOARD_CACHE_SECONDS)
    return figures


def forget_dashboard() -> None:
    """Drop every period's cached figures (a new generation of keys)."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # no generation yet
        cache.set(GENERATION_KEY, 1, timeout=None)


def compute_figures(*, now: datetime, period: Period | None = None) -> dict:
    today = timezone.localdate(now)
    period = period or Period.last(DEFAULT_DAYS, today=today)
    # every closed day from the day before the previous period to today
    since = period.previous.start - timedelta(days=1)
    fill_daily_stats(today=today, days=(today - since).days)
    history = _history(since, today)
    live = _today_by_source(today)
    profiles = Customer.objects.active().aggregate(
        total=Count("id"), identified=Count("id", filter=Q(is_identified=True))
    )
    events_today = sum(n for n, _ in live.values())
    week_days = [today - timedelta(days=n) for n in range(1, 7)]
    events_week = events_today + sum(history["events"].get(d, 0) for d in week_days)
    events = {**history[Metric.EVENTS], today: events_today}
    totals = {
        **history[Metric.PROFILES],
        today: profiles["total"],
    }
    identified = {**history[Metric.IDENTIFIED], today: profiles["identified"]}
    return {
        "period": period,
        "compare": _comparison(period, events=events, totals=totals, identified=identified),
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
        "events_per_day": [(d, events.get(d, 0)) for d in period.each_day()],
        "profiles_per_day": [(d, totals.get(d, 0)) for d in period.each_day()],
    }


@dataclass(frozen=True)
class Compared:
    """One figure over the period and the period before it."""

    label: str
    now: int
    before: int

    @property
    def change(self) -> float | None:
        """Percent change from the previous period (None when it had nothing)."""
        if not self.before:
            return None
        return round(100 * (self.now - self.before) / self.before, 1)


def _comparison(period: Period, *, events: dict, totals: dict, identified: dict) -> list[Compared]:
    def total(figures: dict, days: list[date]) -> int:
        return sum(figures.get(d, 0) for d in days)

    def growth(cumulative: dict, p: Period) -> int:
        # profiles first seen by the end of the last day, less those by the day before
        return cumulative.get(p.end, 0) - cumulative.get(p.start - timedelta(days=1), 0)

    previous = period.previous
    return [
        Compared(
            "Events",
            total(events, period.each_day()),
            total(events, previous.each_day()),
        ),
        Compared("New profiles", growth(totals, period), growth(totals, previous)),
        Compared(
            "New identified profiles", growth(identified, period), growth(identified, previous)
        ),
    ]


def _history(since: date, today: date) -> dict:
    out: dict[str, dict] = {m: {} for m in Metric.values}
    rows = DailyStat.objects.filter(day__gte=since, day__lt=today)
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
