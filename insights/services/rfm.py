"""RFM quintiles, RFM segment names and lifecycle stages.

Over the buyers of the window (``InsightPolicy.rfm_window_days``, default
365 days) that the ``analytics`` purpose may use:

- recency: time of the last purchase in the window; frequency: purchases in
  the window; monetary: their revenue (``segments.purchases``).
- Each is ranked ascending (ties by profile id, so the ranks are 1..n), then
  cut into five groups of equal size (SQL ``NTILE(5)``: when n is not a
  multiple of five, the lowest groups get one more). 5 is best (R5: most
  recent).
- The segment name comes from R and F (``segment_name``); the lifecycle
  stage from days since the first and last purchase of all time
  (``lifecycle_stage``), with the store's thresholds.

``compute_rfm`` replaces every value and records the quintile boundaries;
``refresh_customers`` places a few profiles (after a purchase) against the
last recorded boundaries, without moving anyone else.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from consent.selectors import allowed_q
from customers.models import Customer, Event
from insights import traits
from insights.models import InsightPolicy, RfmRun
from insights.services.bulk import bulk_reads
from segments.purchases import purchase_event, revenue_expression
from segments.stored import (
    StoredValue,
    delete_stored_values,
    replace_stored_values,
    write_stored_values,
)

log = logging.getLogger(__name__)
PURPOSE = "analytics"
METRICS = ("recency", "frequency", "monetary")
RFM_TRAITS = {
    "recency": traits.RFM_RECENCY,
    "frequency": traits.RFM_FREQUENCY,
    "monetary": traits.RFM_MONETARY,
}
ALL_TRAITS = (*RFM_TRAITS.values(), traits.RFM_SEGMENT, traits.LIFECYCLE_STAGE)

# (name, R scores, F scores), from the table; every (R, F) pair has one.
SEGMENT_TABLE = (
    ("Champions", (5,), (4, 5)),
    ("Loyal", (3, 4), (4, 5)),
    ("Potential loyalists", (4, 5), (2, 3)),
    ("New", (5,), (1,)),
    ("Promising", (4,), (1,)),
    ("Need attention", (3,), (3,)),
    ("About to sleep", (3,), (1, 2)),
    ("At risk", (1, 2), (3, 4)),
    ("Can't lose them", (1, 2), (5,)),
    ("Hibernating", (1, 2), (1, 2)),
)


def segment_name(r: int, f: int) -> tuple[str, str]:
    """The RFM segment of (R, F) and the table row that placed it there."""
    for name, rs, fs in SEGMENT_TABLE:
        if r in rs and f in fs:
            return name, f"R {_span(rs)} and F {_span(fs)} → {name}"
    raise ValueError(f"no RFM segment for R{r} F{f}")


def _span(scores: tuple[int, ...]) -> str:
    return str(scores[0]) if len(scores) == 1 else f"{scores[0]}-{scores[-1]}"


def lifecycle_stage(
    *, days_since_first: float, days_since_last: float, policy: InsightPolicy
) -> tuple[str, str]:
    """The buyer's stage and the threshold that placed it."""
    if days_since_first <= policy.new_days:
        return "new", f"first purchase within {policy.new_days} days"
    for stage, limit in (
        ("active", policy.active_days),
        ("at risk", policy.at_risk_days),
        ("lapsed", policy.lapsed_days),
    ):
        if days_since_last <= limit:
            return stage, f"last purchase within {limit} days"
    return "churned", f"no purchase for more than {policy.lapsed_days} days"


def ntile5(n: int) -> np.ndarray:
    """Quintile of each position 0..n-1 in ascending order, as SQL ``NTILE(5)``."""
    size, extra = divmod(n, 5)
    sizes = [size + 1 if group < extra else size for group in range(5)]
    return np.repeat(np.arange(1, 6), sizes)


@dataclass(frozen=True)
class Purchases:
    """One profile's purchases: all time (lifecycle) and in the RFM window."""

    customer_id: int
    first_at: datetime
    last_at: datetime
    window_last_at: datetime | None
    window_count: int
    window_revenue: float


def purchase_summaries(
    *, now: datetime, window_days: int, customer_ids: Sequence[int] | None = None
) -> list[Purchases]:
    """Purchases up to ``now`` of profiles the analytics purpose may use."""
    start = now - timedelta(days=window_days)
    in_window = Q(timestamp__gte=start)
    events = Event.objects.order_by().filter(name=purchase_event(), timestamp__lte=now)
    if customer_ids is not None:
        events = events.filter(customer_id__in=list(customer_ids))
    events = events.filter(
        customer_id__in=Customer.objects.active().filter(allowed_q(PURPOSE)).values("pk")
    )
    rows = events.values("customer_id").annotate(
        first_at=Min("timestamp"),
        last_at=Max("timestamp"),
        window_last_at=Max("timestamp", filter=in_window),
        window_count=Count("pk", filter=in_window),
        window_revenue=Sum(revenue_expression(), filter=in_window),
    )
    return [
        Purchases(
            customer_id=row["customer_id"],
            first_at=row["first_at"],
            last_at=row["last_at"],
            window_last_at=row["window_last_at"],
            window_count=row["window_count"],
            window_revenue=round(float(row["window_revenue"] or 0.0), 2),
        )
        for row in rows
    ]


def _days(delta: timedelta) -> int:
    return max(delta.days, 0)


def _metric_values(buyers: list[Purchases]) -> dict[str, np.ndarray]:
    return {
        "recency": np.array([b.window_last_at.timestamp() for b in buyers], dtype=float),
        "frequency": np.array([b.window_count for b in buyers], dtype=float),
        "monetary": np.array([b.window_revenue for b in buyers], dtype=float),
    }


def quintiles(values: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Each value's quintile (rank ascending, ties by id, then ``NTILE(5)``) and
    the highest value of quintiles 1..4 (an empty quintile repeats the one below)."""
    order = np.lexsort((ids, values))
    scores = np.empty(len(values), dtype=int)
    scores[order] = ntile5(len(values))
    bounds: list[float] = []
    for group in range(1, 5):
        members = values[scores == group]
        below = bounds[-1] if bounds else float("-inf")
        bounds.append(float(members.max()) if len(members) else below)
    return scores, bounds


def _score_against(value: float, bounds: Sequence[float]) -> int:
    """A later value's quintile: the lowest one whose values reach it (ties go low)."""
    return 1 + sum(1 for bound in bounds if value > bound)


def _explanations(
    buyer: Purchases,
    scores: dict[str, int],
    *,
    now: datetime,
    run_bounds: dict[str, list],
    buyers: int,
    window_days: int,
) -> dict[str, dict]:
    days_since = _days(now - buyer.window_last_at)
    inputs = {
        "recency": {"last_purchase_at": buyer.window_last_at.isoformat(), "days_since": days_since},
        "frequency": {"purchases": buyer.window_count},
        "monetary": {"revenue": buyer.window_revenue},
    }
    out = {}
    for metric in METRICS:
        out[metric] = {
            **inputs[metric],
            "rule": f"quintile {scores[metric]} of {buyers} buyers of the last {window_days} "
            "days (5 = best)",
            "quintile_ends": run_bounds[metric],
        }
    name, rule = segment_name(scores["recency"], scores["frequency"])
    out["segment"] = {
        "R": scores["recency"],
        "F": scores["frequency"],
        "M": scores["monetary"],
        "days_since_last_purchase": days_since,
        "purchases": buyer.window_count,
        "revenue": buyer.window_revenue,
        "rule": rule,
    }
    out["segment_name"] = name
    return out


def _lifecycle_value(buyer: Purchases, *, now: datetime, policy: InsightPolicy) -> StoredValue:
    first, last = _days(now - buyer.first_at), _days(now - buyer.last_at)
    stage, rule = lifecycle_stage(days_since_first=first, days_since_last=last, policy=policy)
    return StoredValue(
        buyer.customer_id,
        stage,
        {
            "first_purchase_at": buyer.first_at.isoformat(),
            "last_purchase_at": buyer.last_at.isoformat(),
            "days_since_first": first,
            "days_since_last": last,
            "rule": rule,
            "thresholds": {
                "new": policy.new_days,
                "active": policy.active_days,
                "at risk": policy.at_risk_days,
                "lapsed": policy.lapsed_days,
            },
        },
    )


def _shown_bounds(metric: str, bounds: list[float]) -> list:
    if metric == "recency":
        return [
            None if b == float("-inf") else datetime.fromtimestamp(b, tz=UTC).isoformat()
            for b in bounds
        ]
    return [None if b == float("-inf") else b for b in bounds]


@dataclass(frozen=True)
class RfmReport:
    buyers: int
    lifecycle: int
    run_id: int


@transaction.atomic
def compute_rfm(*, now: datetime | None = None) -> RfmReport:
    """Recompute RFM and lifecycle of every profile and record the boundaries."""
    now = now or timezone.now()
    policy = InsightPolicy.current()
    traits.declare_fixed_traits()
    with bulk_reads():
        everyone = purchase_summaries(now=now, window_days=policy.rfm_window_days)
    buyers = [b for b in everyone if b.window_count]
    ids = np.array([b.customer_id for b in buyers], dtype=np.int64)
    scores: dict[str, np.ndarray] = {}
    bounds: dict[str, list] = {}
    for metric, values in _metric_values(buyers).items():
        scores[metric], raw = quintiles(values, ids)
        bounds[metric] = _shown_bounds(metric, raw)
    values: dict[str, list[StoredValue]] = {name: [] for name in ALL_TRAITS}
    for index, buyer in enumerate(buyers):
        own = {metric: int(scores[metric][index]) for metric in METRICS}
        _append_rfm(values, buyer, own, now=now, bounds=bounds, n=len(buyers), policy=policy)
    values[traits.LIFECYCLE_STAGE] = [_lifecycle_value(b, now=now, policy=policy) for b in everyone]
    for name, rows in values.items():
        replace_stored_values(name=name, values=rows, computed_at=now)
    run = RfmRun.objects.create(
        computed_at=now,
        window_days=policy.rfm_window_days,
        buyers=len(buyers),
        boundaries=bounds,
    )
    log.info("RFM: %d buyers, %d lifecycle stages", len(buyers), len(everyone))
    return RfmReport(buyers=len(buyers), lifecycle=len(everyone), run_id=run.pk)


def _append_rfm(values, buyer, own, *, now, bounds, n, policy) -> None:
    why = _explanations(
        buyer, own, now=now, run_bounds=bounds, buyers=n, window_days=policy.rfm_window_days
    )
    for metric, name in RFM_TRAITS.items():
        values[name].append(StoredValue(buyer.customer_id, own[metric], why[metric]))
    values[traits.RFM_SEGMENT].append(
        StoredValue(buyer.customer_id, why["segment_name"], why["segment"])
    )


def _numeric_bounds(run: RfmRun) -> dict[str, list[float]]:
    out = {}
    for metric in METRICS:
        raw = run.boundaries.get(metric, [])
        if metric == "recency":
            out[metric] = [
                float("-inf") if b is None else datetime.fromisoformat(b).timestamp() for b in raw
            ]
        else:
            out[metric] = [float("-inf") if b is None else float(b) for b in raw]
    return out


@transaction.atomic
def refresh_customers(*, customer_ids: Iterable[int], now: datetime | None = None) -> int:
    """Re-place some profiles (e.g. after a purchase) against the last daily
    boundaries; segments using the traits are re-evaluated for them at once.
    Profiles the analytics purpose may not use lose their values."""
    now = now or timezone.now()
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    policy = InsightPolicy.current()
    run = RfmRun.objects.order_by("-computed_at", "-pk").first()
    window = run.window_days if run else policy.rfm_window_days
    summaries = purchase_summaries(now=now, window_days=window, customer_ids=ids)
    buyers = [s for s in summaries if s.window_count] if run is not None else []
    # Not a buyer (any more), or not to be used: nothing to show.
    no_rfm = set(ids) - {b.customer_id for b in buyers}
    no_stage = set(ids) - {s.customer_id for s in summaries}
    delete_stored_values(customer_ids=no_rfm, names=[*RFM_TRAITS.values(), traits.RFM_SEGMENT])
    delete_stored_values(customer_ids=no_stage, names=[traits.LIFECYCLE_STAGE])
    values: dict[str, list[StoredValue]] = {name: [] for name in ALL_TRAITS}
    if buyers:
        numeric = _numeric_bounds(run)
        metrics = _metric_values(buyers)
        for index, buyer in enumerate(buyers):
            own = {m: _score_against(float(metrics[m][index]), numeric[m]) for m in METRICS}
            _append_rfm(
                values, buyer, own, now=now, bounds=run.boundaries, n=run.buyers, policy=policy
            )
    values[traits.LIFECYCLE_STAGE] = [
        _lifecycle_value(s, now=now, policy=policy) for s in summaries
    ]
    for name, rows in values.items():
        if rows:
            write_stored_values(name=name, values=rows, computed_at=now)
    return len(summaries)
