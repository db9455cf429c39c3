"""Features of every profile as of a moment, and what happened in the window after it.

Read with a few grouped SQL queries (nothing per profile), into pandas
(``frames.read_frame``). A training or a daily run reads the same moments
for several targets: ``Reader`` reads each once.
Everything is measured strictly before ``as_of``; labels strictly from
``as_of`` on, so a snapshot never sees its own future.

- purchase history (the purchase definition of ``segments.purchases``):
  days since the last and first purchase, purchases and revenue of the last
  30, 90 and 365 days — the first three of the 365-day ones are RFM;
- behaviour: for the store's most frequent other events (page and product
  views, cart adds, email opens…, picked from the data), counts of the last
  7, 30 and 90 days; days since any event; tenure (days since first seen).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.db.models import Count, Max, Min, Q, Sum

from consent.selectors import allowed_q
from customers.models import Customer, Event
from insights.services.frames import Epoch, read_frame
from segments.purchases import purchase_event, revenue_expression

PURPOSE = "analytics"
BEHAVIOUR_WINDOWS = (7, 30, 90)
BEHAVIOUR_EVENTS = 6
NEVER_DAYS = 730.0
RFM_FEATURES = ("days_since_last_purchase", "purchases_365d", "revenue_365d")


def population(*, as_of: datetime) -> pd.DataFrame:
    """Active profiles seen before ``as_of`` that the analytics purpose may use,
    indexed by id, with their tenure in days."""
    rows = (
        Customer.objects.active()
        .filter(allowed_q(PURPOSE), first_seen__lt=as_of)
        .order_by()
        .annotate(seen=Epoch("first_seen"))
        .values("pk", "seen")
    )
    found = read_frame(rows)
    frame = pd.DataFrame(
        {"tenure_days": _days(as_of, found["seen"])},
        index=pd.Index(found["pk"].to_numpy(dtype=np.int64), name="customer_id"),
    )
    return frame


def behaviour_event_names(*, as_of: datetime, limit: int = BEHAVIOUR_EVENTS) -> list[str]:
    """The most frequent non-purchase event names of the 90 days before ``as_of``."""
    start = as_of - timedelta(days=max(BEHAVIOUR_WINDOWS))
    rows = (
        Event.objects.order_by()
        .filter(timestamp__gte=start, timestamp__lt=as_of)
        .exclude(name=purchase_event())
        .exclude(name="")
        .values("name")
        .annotate(n=Count("pk"))
        .order_by("-n", "name")[:limit]
    )
    return [row["name"] for row in rows]


def _days(as_of: datetime, moments: pd.Series) -> np.ndarray:
    """Days from each moment (``Epoch`` seconds) to ``as_of``; ``NEVER_DAYS`` where
    there is none."""
    seconds = pd.to_numeric(moments, errors="coerce").to_numpy(dtype=float)
    days = (as_of.timestamp() - seconds) / 86400
    return np.where(np.isnan(days), NEVER_DAYS, days)


def _purchase_features(as_of: datetime) -> pd.DataFrame:
    windows = {days: Q(timestamp__gte=as_of - timedelta(days=days)) for days in (30, 90, 365)}
    revenue = revenue_expression()
    aggregates = {
        "first": Epoch(Min("timestamp")),
        "last": Epoch(Max("timestamp")),
        **{f"purchases_{d}d": Count("pk", filter=q) for d, q in windows.items()},
        **{f"revenue_{d}d": Sum(revenue, filter=q) for d, q in windows.items()},
    }
    rows = (
        Event.objects.order_by()
        .filter(name=purchase_event(), timestamp__lt=as_of)
        .values("customer_id")
        .annotate(**aggregates)
    )
    columns = ["customer_id", *aggregates]
    frame = read_frame(rows, texts=["name"])[columns].set_index("customer_id")
    out = pd.DataFrame(index=frame.index)
    out["days_since_last_purchase"] = _days(as_of, frame["last"])
    out["days_since_first_purchase"] = _days(as_of, frame["first"])
    for column in columns[3:]:
        out[column] = frame[column].astype(float).fillna(0.0)
    return out


def _behaviour_features(as_of: datetime, names: Sequence[str]) -> pd.DataFrame:
    start = as_of - timedelta(days=max(BEHAVIOUR_WINDOWS))
    windows = {d: Q(timestamp__gte=as_of - timedelta(days=d)) for d in BEHAVIOUR_WINDOWS}
    rows = (
        Event.objects.order_by()
        .filter(timestamp__gte=start, timestamp__lt=as_of)
        .exclude(name=purchase_event())
        .values("customer_id", "name")
        .annotate(
            last=Epoch(Max("timestamp")),
            **{f"n{d}": Count("pk", filter=q) for d, q in windows.items()},
        )
    )
    columns = ["customer_id", "name", "last", *(f"n{d}" for d in BEHAVIOUR_WINDOWS)]
    frame = read_frame(rows, texts=["name"])[columns]
    out = pd.DataFrame(index=pd.Index(frame["customer_id"].unique(), name="customer_id"))
    if frame.empty:
        out["days_since_last_event"] = pd.Series(dtype=float)
    else:
        frame["age"] = _days(as_of, frame["last"])
        out["days_since_last_event"] = frame.groupby("customer_id")["age"].min()
    for d in BEHAVIOUR_WINDOWS:
        out[f"events_{d}d"] = frame.groupby("customer_id")[f"n{d}"].sum() if len(frame) else 0.0
    for index, name in enumerate(names):
        own = frame[frame["name"] == name].set_index("customer_id")
        for d in BEHAVIOUR_WINDOWS:
            out[f"e{index}_{d}d"] = own[f"n{d}"] if len(own) else 0.0
    return out


def feature_names(names: Sequence[str]) -> list[str]:
    purchase = [
        "days_since_last_purchase",
        "days_since_first_purchase",
        *(f"purchases_{d}d" for d in (30, 90, 365)),
        *(f"revenue_{d}d" for d in (30, 90, 365)),
    ]
    behaviour = [
        "days_since_last_event",
        *(f"events_{d}d" for d in BEHAVIOUR_WINDOWS),
        *(f"e{i}_{d}d" for i in range(len(names)) for d in BEHAVIOUR_WINDOWS),
    ]
    return ["tenure_days", *purchase, *behaviour]


def feature_label(feature: str, names: Sequence[str]) -> str:
    """A feature's name for people ("Product Viewed (30 days)")."""
    if feature.startswith("e") and feature[1].isdigit():
        index, days = feature[1:].split("_")
        return f"{names[int(index)]} ({days.rstrip('d')} days)"
    return (
        feature.replace("_", " ")
        .replace(" 365d", " (365 days)")
        .replace(" 90d", " (90 days)")
        .replace(" 30d", " (30 days)")
        .replace(" 7d", " (7 days)")
    )


def snapshot(*, as_of: datetime, names: Sequence[str]) -> pd.DataFrame:
    """Every feature of every profile of the population, as of ``as_of``."""
    frame = population(as_of=as_of)
    frame = frame.join(_purchase_features(as_of), how="left")
    frame = frame.join(_behaviour_features(as_of, names), how="left")
    columns = feature_names(names)
    for column in columns:
        if column not in frame:
            frame[column] = 0.0
    never = ["days_since_last_purchase", "days_since_first_purchase", "days_since_last_event"]
    frame[never] = frame[never].fillna(NEVER_DAYS)
    return frame[columns].fillna(0.0).astype(float)


def outcomes(*, start: datetime, days: int) -> pd.DataFrame:
    """Purchases and revenue per profile in ``[start, start + days)``."""
    rows = (
        Event.objects.order_by()
        .filter(
            name=purchase_event(), timestamp__gte=start, timestamp__lt=start + timedelta(days=days)
        )
        .values("customer_id")
        .annotate(purchases=Count("pk"), revenue=Sum(revenue_expression()))
    )
    frame = read_frame(rows)[["customer_id", "purchases", "revenue"]]
    return frame.set_index("customer_id").astype(float)


class Reader:
    """Snapshots, outcomes and event names of one run, each read once:
    training reads the same moments for several targets (the 90-day ones
    share theirs), and the three scores of a day share one snapshot of now."""

    def __init__(self) -> None:
        self._snapshots: dict[tuple, pd.DataFrame] = {}
        self._outcomes: dict[tuple, pd.DataFrame] = {}
        self._names: dict[datetime, list[str]] = {}

    def event_names(self, *, as_of: datetime) -> list[str]:
        if as_of not in self._names:
            self._names[as_of] = behaviour_event_names(as_of=as_of)
        return self._names[as_of]

    def snapshot(self, *, as_of: datetime, names: Sequence[str]) -> pd.DataFrame:
        key = (as_of, tuple(names))
        if key not in self._snapshots:
            self._snapshots[key] = snapshot(as_of=as_of, names=names)
        return self._snapshots[key]

    def outcomes(self, *, start: datetime, days: int) -> pd.DataFrame:
        key = (start, days)
        if key not in self._outcomes:
            self._outcomes[key] = outcomes(start=start, days=days)
        return self._outcomes[key]
