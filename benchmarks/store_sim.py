"""A simulated store to measure insights against (used by benchmarks/insights.py
and, small, by tests/insights).

Each person joins on some day and has a latent daily purchase propensity
that drifts (a mean-reverting random walk on its logarithm, around the
person's own level). Every day, while they have not churned:

- they buy with probability propensity x season (a yearly wave and a
  December peak), for a log-normal amount (``revenue``);
- they view products, add to cart and open emails at rates that grow with
  the *current* propensity, plus some propensity-free page views — so
  behaviour carries information that past purchases (RFM) do not;
- they churn with a small daily hazard (higher while their propensity is
  low); a churned person's propensity falls to near zero for good.

The truth is drawn by simulating the window after the history: who buys
in the next 30 days, who buys nothing in the next 90, and their revenue.
Everything is vectorised over people, one step per day.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

KINDS = ("Order Completed", "Product Viewed", "Product Added", "Email Opened", "Page Viewed")
PURCHASE, VIEW, CART, EMAIL, PAGE = range(5)


@dataclass(frozen=True)
class Config:
    profiles: int = 20_000
    history_days: int = 540
    seed: int = 42
    # mean of the log propensity and its spread between people
    level: float = -5.6
    spread: float = 1.0
    drift: float = 0.22
    reversion: float = 0.03
    churn_hazard: float = 1 / 500
    # behaviour rates per day: base + factor x propensity
    view: tuple[float, float] = (0.002, 4.0)
    cart: tuple[float, float] = (0.0003, 1.5)
    email: tuple[float, float] = (0.004, 2.0)
    page: float = 0.004


@dataclass
class Simulation:
    config: Config
    end: datetime  # the "now" at the end of the history
    first_seen_days: np.ndarray  # day index each person joined
    ev_person: np.ndarray
    ev_time: np.ndarray  # days since the history's start (float)
    ev_kind: np.ndarray
    ev_revenue: np.ndarray
    bought_30d: np.ndarray  # truth, per person
    bought_90d: np.ndarray
    revenue_90d: np.ndarray

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.config.history_days)

    def moment(self, days: np.ndarray | float):
        return self.start + timedelta(days=float(days))


def season(day_of_year: np.ndarray | float):
    wave = 1 + 0.25 * np.sin(2 * math.pi * (day_of_year - 80) / 365)
    december = 0.6 * np.exp(-(((day_of_year - 350) / 12) ** 2))
    return wave + december


def simulate(config: Config, *, end: datetime) -> Simulation:
    rng = np.random.default_rng(config.seed)
    n, days = config.profiles, config.history_days
    joined = rng.integers(0, days - 30, size=n)
    own = rng.normal(config.level, config.spread, size=n)
    z = own + rng.normal(0, 0.5, size=n)
    alive = np.ones(n, dtype=bool)
    start = end - timedelta(days=days)
    start_doy = start.timetuple().tm_yday
    persons, times, kinds, revenues = [], [], [], []
    bought_30d = np.zeros(n, dtype=bool)
    bought_90d = np.zeros(n, dtype=bool)
    revenue_90d = np.zeros(n)
    for day in range(days + 90):
        z += config.reversion * (own - z) + rng.normal(0, config.drift, size=n)
        low = np.exp(z) < 0.002
        hazard = config.churn_hazard * np.where(low, 3.0, 1.0)
        alive &= rng.random(n) >= hazard
        present = (joined <= day) & alive
        p = np.where(present, np.minimum(np.exp(z), 0.3), 0.0)
        buy_p = p * season((start_doy + day) % 365)
        bought = rng.random(n) < buy_p
        amount = np.where(bought, rng.lognormal(3.8, 0.6, size=n), 0.0)
        if day >= days:  # the truth window after the history
            bought_30d |= bought & (day < days + 30)
            bought_90d |= bought
            revenue_90d += amount
            continue
        rates = {
            VIEW: config.view[0] + config.view[1] * p,
            CART: config.cart[0] + config.cart[1] * p,
            EMAIL: config.email[0] + config.email[1] * p,
            PAGE: np.full(n, config.page),
        }
        for kind, rate in rates.items():
            count = rng.poisson(np.where(present | (kind == PAGE) & (joined <= day), rate, 0.0))
            who = np.repeat(np.nonzero(count)[0], count[count > 0])
            persons.append(who)
            times.append(day + rng.random(len(who)))
            kinds.append(np.full(len(who), kind, dtype=np.int8))
            revenues.append(np.zeros(len(who)))
        who = np.nonzero(bought)[0]
        persons.append(who)
        times.append(day + rng.random(len(who)))
        kinds.append(np.full(len(who), PURCHASE, dtype=np.int8))
        revenues.append(np.round(amount[who], 2))
    return Simulation(
        config=config,
        end=end,
        first_seen_days=joined,
        ev_person=np.concatenate(persons),
        ev_time=np.concatenate(times),
        ev_kind=np.concatenate(kinds),
        ev_revenue=np.concatenate(revenues),
        bought_30d=bought_30d,
        bought_90d=bought_90d,
        revenue_90d=revenue_90d,
    )


# --- loading into the database ------------------------------------------------------


def load(sim: Simulation, *, source_id: int, bulk: bool = False) -> list[int]:
    """Insert the simulated people and events; returns the customer ids in
    person order. With ``bulk`` (benchmarks, PostgreSQL, outside any
    transaction): COPY, with the event indexes rebuilt afterwards; otherwise
    ``bulk_create`` (small runs, tests on either database)."""
    from django.db import connection

    if bulk and connection.vendor == "postgresql":
        return _load_copy(sim, source_id=source_id)
    return _load_orm(sim, source_id=source_id)


def _load_orm(sim: Simulation, *, source_id: int) -> list[int]:
    from customers.models import Customer, Event

    people = Customer.objects.bulk_create(
        Customer(
            first_seen=sim.moment(day),
            last_seen=sim.end,
        )
        for day in sim.first_seen_days
    )
    ids = [c.pk for c in people]
    Event.objects.bulk_create(
        (
            Event(
                customer_id=ids[p],
                source_id=source_id,
                type="track",
                name=KINDS[k],
                properties={"revenue": float(r)} if k == PURCHASE else {},
                timestamp=sim.moment(t),
                received_at=sim.moment(t),
                message_id=f"sim-{i}",
            )
            for i, (p, t, k, r) in enumerate(
                zip(sim.ev_person, sim.ev_time, sim.ev_kind, sim.ev_revenue, strict=True)
            )
        ),
        batch_size=2000,
    )
    return ids


def _load_copy(sim: Simulation, *, source_id: int) -> list[int]:
    import pandas as pd
    from django.db import connection

    n = len(sim.first_seen_days)
    start = pd.Timestamp(sim.start)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('customers_customer', 'id')) "
            "FROM generate_series(1, %s)",
            [n],
        )
        ids = np.array([row[0] for row in cursor.fetchall()], dtype=np.int64)
        seen = start + pd.to_timedelta(sim.first_seen_days, unit="D")
        people = pd.DataFrame(
            {
                "id": ids,
                "traits": "{}",
                "trait_provenance": "{}",
                "is_identified": "f",
                "first_seen": seen.strftime("%Y-%m-%d %H:%M:%S+00"),
                "last_seen": str(sim.end),
                "created_at": str(sim.end),
                "updated_at": str(sim.end),
                "version": 1,
            }
        )
        for column in (
            "email",
            "phone",
            "first_name",
            "last_name",
            "address_line1",
            "address_line2",
            "city",
            "region",
            "postal_code",
            "country",
            "company",
        ):
            people[column] = ""
        _copy(cursor, "customers_customer", people)
        # Secondary indexes are built once after loading, not row by row.
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'customers_event' "
            "AND indexname NOT IN ('customers_event_pkey', 'event_source_message_unique')"
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        chunk = 2_000_000
        for begin in range(0, len(sim.ev_person), chunk):
            part = slice(begin, begin + chunk)
            stamps = start + pd.to_timedelta(sim.ev_time[part], unit="D")
            kinds = sim.ev_kind[part]
            revenue = sim.ev_revenue[part]
            properties = np.where(
                kinds == PURCHASE,
                pd.Series(revenue).map(lambda r: f'{{"revenue": {r:.2f}}}').to_numpy(),
                "{}",
            )
            events = pd.DataFrame(
                {
                    "customer_id": ids[sim.ev_person[part]],
                    "source_id": source_id,
                    "type": "track",
                    "name": np.array(KINDS, dtype=object)[kinds],
                    "properties": properties,
                    "context": "{}",
                    "timestamp": stamps.strftime("%Y-%m-%d %H:%M:%S.%f+00"),
                    "received_at": stamps.strftime("%Y-%m-%d %H:%M:%S.%f+00"),
                    "message_id": [f"sim-{i}" for i in range(begin, begin + len(kinds))],
                }
            )
            _copy(cursor, "customers_event", events)
        # index builds sort in memory instead of in many passes over temporary files
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            # a partitioned index shows as "ON ONLY parent": build it on every partition
            cursor.execute(definition.replace(" ON ONLY ", " ON "))
    return ids.tolist()


def _copy(cursor, table: str, frame) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    sql = f"COPY {table} ({columns}) FROM STDIN (FORMAT csv, NULL '\\N')"
    with cursor.cursor.copy(sql) as copy:
        while data := buffer.read(1 << 20):
            copy.write(data)
