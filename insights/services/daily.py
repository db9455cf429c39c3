"""The daily run: RFM and lifecycle, scoring plans, and fresh scores from the
published predictive models (each step in its own transaction)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from insights.services import predictions, rfm, scoring


@dataclass
class DailyReport:
    buyers: int = 0
    lifecycle: int = 0
    scored: dict[str, int] = field(default_factory=dict)
    predicted: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"RFM: {self.buyers} buyers, lifecycle: {self.lifecycle} profiles"]
        out += [f"scoring plan {name}: {n} profiles" for name, n in self.scored.items()]
        out += [f"prediction {target}: {n} profiles" for target, n in self.predicted.items()]
        out.append("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in self.seconds.items()))
        return out


def compute_insights(*, now: datetime | None = None) -> DailyReport:
    now = now or timezone.now()
    report = DailyReport()
    started = time.monotonic()
    result = rfm.compute_rfm(now=now)
    report.buyers, report.lifecycle = result.buyers, result.lifecycle
    report.seconds["rfm"] = time.monotonic() - started
    started = time.monotonic()
    report.scored = scoring.compute_all_plans(now=now)
    report.seconds["scoring plans"] = time.monotonic() - started
    started = time.monotonic()
    report.predicted = predictions.score_all(now=now)
    report.seconds["predictions"] = time.monotonic() - started
    return report
