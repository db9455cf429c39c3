"""Daily figures behind the admin dashboard.

One row per (day, metric, key) for every closed day, written once (see
``backoffice.stats``); the dashboard charts read these few hundred rows
instead of scanning profiles and events on every request.
"""

from __future__ import annotations

from django.db import models


class DailyStat(models.Model):
    class Metric(models.TextChoices):
        EVENTS = "events", "events that day"
        SOURCE_EVENTS = "source_events", "events that day from one source (key: source id)"
        SOURCE_LAST = "source_last", "last event received that day (unix time; key: source id)"
        PROFILES = "profiles", "profiles first seen by the end of the day"
        IDENTIFIED = "identified", "identified profiles first seen by the end of the day"

    day = models.DateField()
    metric = models.CharField(max_length=32, choices=Metric.choices)
    key = models.CharField(max_length=64, blank=True, default="")
    value = models.BigIntegerField()

    class Meta:
        ordering = ["day", "metric", "key"]
        constraints = [
            models.UniqueConstraint(fields=["day", "metric", "key"], name="dailystat_unique"),
        ]
        indexes = [models.Index(fields=["metric", "day"], name="dailystat_metric_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.metric}{f'[{self.key}]' if self.key else ''} = {self.value}"
