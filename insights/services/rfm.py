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
last recorded boundaries, without moving anyone else. Both read the buyers
into one frame (``buyer_frame``) and render values and explanations from
its columns (``rfm_rows``, ``lifecycle_rows``): nothing per profile but a
line of JSON text, so the daily run costs little more than its writes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from django.db import transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from consent.selectors import allowed_q
from customers.models import Customer, Event
from insights import traits
from insights.models import InsightPolicy, RfmRun
from insights.services.bulk import bulk_reads
from insights.services.frames import EpochMicros, read_frame
from segments.purchases import purchase_event, revenue_expression
from segments.stored import (
    StoredValue,
    delete_stored_values,
    replace_stored_traits,
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
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_US = 86_400_000_000
STAGES = ("new", "active", "at risk", "lapsed", "churned")

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


def lifecycle_stages(
    *, days_since_first: np.ndarray, days_since_last: np.ndarray, policy: InsightPolicy
) -> np.ndarray:
    """Each buyer's stage, as an index into ``STAGES``."""
    return np.select(
        [
            days_since_first <= policy.new_days,
            days_since_last <= policy.active_days,
            days_since_last <= policy.at_risk_days,
            days_since_last <= policy.lapsed_days,
        ],
        [0, 1, 2, 3],
        default=4,
    )


def stage_rules(policy: InsightPolicy) -> tuple[str, ...]:
    """The threshold that places a buyer in each of ``STAGES``."""
    return (
        f"first purchase within {policy.new_days} days",
        f"last purchase within {policy.active_days} days",
        f"last purchase within {policy.at_risk_days} days",
        f"last purchase within {policy.lapsed_days} days",
        f"no purchase for more than {policy.lapsed_days} days",
    )


def lifecycle_stage(
    *, days_since_first: float, days_since_last: float, policy: InsightPolicy
) -> tuple[str, str]:
    """One buyer's stage and the threshold that placed it."""
    (index,) = lifecycle_stages(
        days_since_first=np.array([days_since_first]),
        days_since_last=np.array([days_since_last]),
        policy=policy,
    )
    return STAGES[index], stage_rules(policy)[index]


def ntile5(n: int) -> np.ndarray:
    """Quintile of each position 0..n-1 in ascending order, as SQL ``NTILE(5)``."""
    size, extra = divmod(n, 5)
    sizes = [size + 1 if group < extra else size for group in range(5)]
    return np.repeat(np.arange(1, 6), sizes)


def micros(moment: datetime) -> int:
    """An aware datetime as whole microseconds since 1970 (as ``EpochMicros``)."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def buyer_frame(
    *, now: datetime, window_days: int, customer_ids: Sequence[int] | None = None
) -> pd.DataFrame:
    """Purchases up to ``now`` of profiles the analytics purpose may use, one
    row per profile (indexed by id): first and last purchase of all time and
    last of the window (``*_us``: microseconds since 1970), purchases and
    revenue (rounded to cents) of the window."""
    in_window = Q(timestamp__gte=now - timedelta(days=window_days))
    events = Event.objects.order_by().filter(name=purchase_event(), timestamp__lte=now)
    if customer_ids is not None:
        events = events.filter(customer_id__in=list(customer_ids))
    events = events.filter(
        customer_id__in=Customer.objects.active().filter(allowed_q(PURPOSE)).values("pk")
    )
    rows = events.values("customer_id").annotate(
        first_us=EpochMicros(Min("timestamp")),
        last_us=EpochMicros(Max("timestamp")),
        window_last_us=EpochMicros(Max("timestamp", filter=in_window)),
        window_count=Count("pk", filter=in_window),
        window_revenue=Sum(revenue_expression(), filter=in_window),
    )
    frame = read_frame(rows)
    frame = frame.set_index(frame["customer_id"].astype(np.int64)).drop(columns="customer_id")
    frame["window_count"] = frame["window_count"].astype(np.int64)
    revenue = pd.to_numeric(frame["window_revenue"]).fillna(0.0).astype(float)
    frame["window_revenue"] = [round(value, 2) for value in revenue.tolist()]
    for column in ("first_us", "last_us", "window_last_us"):
        frame[column] = pd.to_numeric(frame[column]).astype(float)
    return frame.sort_index()


def _metric_values(buyers: pd.DataFrame) -> dict[str, np.ndarray]:
    return {
        "recency": buyers["window_last_us"].to_numpy(dtype=float),
        "frequency": buyers["window_count"].to_numpy(dtype=float),
        "monetary": buyers["window_revenue"].to_numpy(dtype=float),
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


def scores_against(values: np.ndarray, bounds: Sequence[float]) -> np.ndarray:
    """Later values' quintiles: the lowest one whose values reach each (ties go low)."""
    return 1 + (values[:, None] > np.asarray(bounds, dtype=float)[None, :]).sum(axis=1)


def _iso(moments_us: np.ndarray) -> np.ndarray:
    """Microseconds since 1970 as ``datetime.isoformat()`` writes them in UTC."""
    if not len(moments_us):
        return np.array([], dtype=object)
    text = np.datetime_as_string(moments_us.astype(np.int64).astype("datetime64[us]"), unit="us")
    return (pd.Series(text).str.replace(".000000", "", regex=False) + "+00:00").to_numpy()


def _days_since(now: datetime, moments_us: np.ndarray) -> np.ndarray:
    """Whole days from each moment to ``now`` (``timedelta.days``), at least 0."""
    return np.maximum((micros(now) - moments_us.astype(np.int64)) // DAY_US, 0)


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def rfm_rows(
    buyers: pd.DataFrame,
    scores: dict[str, np.ndarray],
    *,
    now: datetime,
    bounds: dict[str, list],
    n: int,
    window_days: int,
) -> dict[str, list[tuple[int, object, str]]]:
    """The four RFM traits of ``buyers``: ``(customer_id, value, explanation
    as JSON text)`` rows, from their scores and the run's shown ``bounds``."""
    ids = buyers.index.tolist()
    days = _days_since(now, buyers["window_last_us"].to_numpy()).tolist()
    last = _iso(buyers["window_last_us"].to_numpy()).tolist()
    count = buyers["window_count"].tolist()
    revenue = buyers["window_revenue"].tolist()
    r, f, m = (scores[metric].astype(int).tolist() for metric in METRICS)
    rules = {
        q: _dumps(f"quintile {q} of {n} buyers of the last {window_days} days (5 = best)")
        for q in range(1, 6)
    }
    tail = {
        metric: {q: f',"rule":{rules[q]},"quintile_ends":{_dumps(bounds[metric])}}}' for q in rules}
        for metric in METRICS
    }
    named = {
        (ri, fi): (name, _dumps(rule))
        for ri in range(1, 6)
        for fi in range(1, 6)
        for name, rule in [segment_name(ri, fi)]
    }
    out: dict[str, list[tuple[int, object, str]]] = {
        name: [] for name in (*RFM_TRAITS.values(), traits.RFM_SEGMENT)
    }
    recency, frequency, monetary = (out[name] for name in RFM_TRAITS.values())
    segment = out[traits.RFM_SEGMENT]
    for cid, d, at, c, rev, ri, fi, mi in zip(
        ids, days, last, count, revenue, r, f, m, strict=True
    ):
        recency.append(
            (cid, ri, f'{{"last_purchase_at":"{at}","days_since":{d}{tail["recency"][ri]}')
        )
        frequency.append((cid, fi, f'{{"purchases":{c}{tail["frequency"][fi]}'))
        monetary.append((cid, mi, f'{{"revenue":{rev!r}{tail["monetary"][mi]}'))
        name, rule = named[ri, fi]
        segment.append(
            (
                cid,
                name,
                f'{{"R":{ri},"F":{fi},"M":{mi},"days_since_last_purchase":{d},'
                f'"purchases":{c},"revenue":{rev!r},"rule":{rule}}}',
            )
        )
    return out


def lifecycle_rows(
    everyone: pd.DataFrame, *, now: datetime, policy: InsightPolicy
) -> list[tuple[int, object, str]]:
    """Every buyer's ``lifecycle_stage`` row, with the inputs and the threshold."""
    first_us, last_us = everyone["first_us"].to_numpy(), everyone["last_us"].to_numpy()
    first, last = _days_since(now, first_us), _days_since(now, last_us)
    stage = lifecycle_stages(days_since_first=first, days_since_last=last, policy=policy)
    thresholds = _dumps(
        {
            "new": policy.new_days,
            "active": policy.active_days,
            "at risk": policy.at_risk_days,
            "lapsed": policy.lapsed_days,
        }
    )
    tails = [f',"rule":{_dumps(rule)},"thresholds":{thresholds}}}' for rule in stage_rules(policy)]
    rows = zip(
        everyone.index.tolist(),
        _iso(first_us).tolist(),
        _iso(last_us).tolist(),
        first.tolist(),
        last.tolist(),
        stage.tolist(),
        strict=True,
    )
    return [
        (
            cid,
            STAGES[s],
            f'{{"first_purchase_at":"{a}","last_purchase_at":"{b}",'
            f'"days_since_first":{d1},"days_since_last":{d2}{tails[s]}',
        )
        for cid, a, b, d1, d2, s in rows
    ]


def _shown_bounds(metric: str, bounds: list[float]) -> list:
    if metric == "recency":
        return [None if b == float("-inf") else _iso(np.array([b]))[0] for b in bounds]
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
        everyone = buyer_frame(now=now, window_days=policy.rfm_window_days)
    buyers = everyone[everyone["window_count"] > 0]
    ids = buyers.index.to_numpy(dtype=np.int64)
    scores: dict[str, np.ndarray] = {}
    bounds: dict[str, list] = {}
    for metric, values in _metric_values(buyers).items():
        scores[metric], raw = quintiles(values, ids)
        bounds[metric] = _shown_bounds(metric, raw)
    rows = rfm_rows(
        buyers, scores, now=now, bounds=bounds, n=len(buyers), window_days=policy.rfm_window_days
    )
    rows[traits.LIFECYCLE_STAGE] = lifecycle_rows(everyone, now=now, policy=policy)
    replace_stored_traits(traits=rows, computed_at=now)
    run = RfmRun.objects.create(
        computed_at=now,
        window_days=policy.rfm_window_days,
        buyers=len(buyers),
        boundaries=bounds,
    )
    log.info("RFM: %d buyers, %d lifecycle stages", len(buyers), len(everyone))
    return RfmReport(buyers=len(buyers), lifecycle=len(everyone), run_id=run.pk)


def _numeric_bounds(run: RfmRun) -> dict[str, list[float]]:
    out = {}
    for metric in METRICS:
        raw = run.boundaries.get(metric, [])
        if metric == "recency":
            out[metric] = [
                float("-inf") if b is None else float(micros(datetime.fromisoformat(b)))
                for b in raw
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
    everyone = buyer_frame(now=now, window_days=window, customer_ids=ids)
    buyers = everyone[everyone["window_count"] > 0] if run is not None else everyone.iloc[:0]
    # Not a buyer (any more), or not to be used: nothing to show.
    no_rfm = set(ids) - set(buyers.index.tolist())
    no_stage = set(ids) - set(everyone.index.tolist())
    delete_stored_values(customer_ids=no_rfm, names=[*RFM_TRAITS.values(), traits.RFM_SEGMENT])
    delete_stored_values(customer_ids=no_stage, names=[traits.LIFECYCLE_STAGE])
    rows: dict[str, list[tuple[int, object, str]]] = {}
    if len(buyers):
        numeric = _numeric_bounds(run)
        values = _metric_values(buyers)
        scores = {m: scores_against(values[m], numeric[m]) for m in METRICS}
        rows = rfm_rows(
            buyers, scores, now=now, bounds=run.boundaries, n=run.buyers, window_days=window
        )
    rows[traits.LIFECYCLE_STAGE] = lifecycle_rows(everyone, now=now, policy=policy)
    for name, trait_rows in rows.items():
        if trait_rows:
            values = [StoredValue(cid, value, json.loads(why)) for cid, value, why in trait_rows]
            write_stored_values(name=name, values=values, computed_at=now)
    return len(everyone)
