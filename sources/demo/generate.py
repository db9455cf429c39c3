"""Deterministic synthetic demo data, written with bulk inserts.

People appear in several sources with overlapping identifiers (the shop
knows their email and user id, the CRM their email and CRM id, the app a
device id), a share are anonymous visitors, and their events spread over
the last 90 days. The same seed and anchor day give the same data.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from customers.models import Customer, Event, IdentifierType, Identity, Source
from sources.demo import people as vocab
from sources.demo.personalization import ensure_demo_personalization
from sources.services.keys import create_source

# name, kind, and what the source stands for (printed with its write key).
DEMO_SOURCES = (
    ("Website", Source.Kind.WEBSITE, "browser tracking (analytics.js): page views, sign-ups"),
    ("Mobile app", Source.Kind.MOBILE, "app SDK calls: screens and device ids"),
    ("CRM", Source.Kind.CRM, "server-side identify calls from the CRM: emails and CRM ids"),
    ("Shop", Source.Kind.SHOP, "the web shop's backend: Order Completed events"),
)
DEMO_SOURCE_PURPOSES = {name: purpose for name, _kind, purpose in DEMO_SOURCES}
BATCH = 2000


@dataclass
class DemoReport:
    customers: int = 0
    identities: int = 0
    events: int = 0
    new_source_keys: dict[str, str] = field(default_factory=dict)


def ensure_demo_sources() -> tuple[dict[str, Source], dict[str, str]]:
    sources: dict[str, Source] = {}
    keys: dict[str, str] = {}
    for name, kind, _purpose in DEMO_SOURCES:
        source = Source.objects.filter(name=name).first()
        if source is None:
            source, keys[name] = create_source(name=name, kind=kind)
        sources[name] = source
    return sources, keys


def seed_demo(*, customers: int, seed: int, anchor: date | None = None) -> DemoReport:
    """Create ``customers`` synthetic people; ``anchor`` is the day 'now' is based on.

    'Now' is noon of the anchor day, or the start of the current hour when
    that is earlier (the anchor is today), so no demo event lies in the future.
    """
    current_hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    anchor = anchor or current_hour.date()
    now = min(datetime(anchor.year, anchor.month, anchor.day, 12, tzinfo=UTC), current_hour)
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    sources, keys = ensure_demo_sources()
    types = {t.name: t for t in IdentifierType.objects.all()}
    report = DemoReport(new_source_keys=keys)
    ensure_demo_personalization(sources["Website"])
    for start in range(0, customers, BATCH):
        people = [
            _person(rng, index, sources, now, seed)
            for index in range(start, min(customers, start + BATCH))
        ]
        _write_batch(people, types, report)
    _refresh_planner_statistics()
    return report


def _refresh_planner_statistics() -> None:
    """ANALYZE after a bulk load, so the first queries are planned on real row
    counts rather than on an empty table's (autovacuum gets there only later)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        for model in (Customer, Identity, Event, Customer.history.model, Identity.history.model):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


@transaction.atomic
def _write_batch(people: list[dict], types: dict[str, IdentifierType], report: DemoReport):
    created = bulk_create_with_history([p["customer"] for p in people], Customer, batch_size=500)
    identities: list[Identity] = []
    events: list[Event] = []
    for person, customer in zip(people, created, strict=True):
        for type_name, value, source, seen in person["identities"]:
            identities.append(
                Identity(
                    type=types[type_name],
                    value=value,
                    customer=customer,
                    source=source,
                    first_seen=seen,
                )
            )
        for event in person["events"]:
            event.customer = customer
            events.append(event)
    bulk_create_with_history(identities, Identity, batch_size=1000)
    Event.objects.bulk_create(events, batch_size=2000)
    report.customers += len(created)
    report.identities += len(identities)
    report.events += len(events)


def _person(rng: random.Random, index: int, sources: dict[str, Source], now: datetime, seed: int):
    first_seen = now - timedelta(days=rng.uniform(1, 90))
    anonymous = rng.random() < 0.25
    device_ids = [
        str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(rng.choice((1, 1, 2, 3)))
    ]
    web, app, crm, shop = (sources[n] for n in ("Website", "Mobile app", "CRM", "Shop"))
    identities = [
        ("anonymous_id", device, rng.choice((web, app)), first_seen) for device in device_ids
    ]
    customer = Customer(first_seen=first_seen, last_seen=first_seen, is_identified=not anonymous)
    if not anonymous:
        _fill_profile(rng, customer, index, seed, first_seen, identities, web, crm, shop)
    events = _events(rng, customer, device_ids, first_seen, now, web, app, shop, anonymous)
    if events:
        customer.last_seen = max(e.timestamp for e in events)
    return {"customer": customer, "identities": identities, "events": events}


def _fill_profile(rng, customer, index, seed, seen, identities, web, crm, shop):
    first, last = rng.choice(vocab.FIRST_NAMES), rng.choice(vocab.LAST_NAMES)
    city, region, postcode, country, dial = rng.choice(vocab.CITIES)
    customer.first_name, customer.last_name = first, last
    customer.email = f"{first}.{last}.{seed}-{index}@{rng.choice(vocab.EMAIL_DOMAINS)}".lower()
    customer.city, customer.region, customer.postal_code = city, region, postcode
    customer.country = country
    customer.address_line1 = f"{rng.randint(1, 200)} {rng.choice(vocab.STREETS)}"
    customer.company = rng.choice(vocab.COMPANIES)
    if rng.random() < 0.7:
        customer.birthday = date(1950, 1, 1) + timedelta(days=rng.randint(0, 20000))
    stamp = seen.isoformat()
    customer.traits = {
        "plan": rng.choice(vocab.PLANS),
        "loyalty_tier": rng.choice(vocab.TIERS),
        "newsletter": rng.random() < 0.55,
        "lifetime_value": round(rng.uniform(0, 2500), 2),
    }
    customer.trait_provenance = {
        "email": {"source": crm.pk, "at": stamp},
        "first_name": {"source": crm.pk, "at": stamp},
        "last_name": {"source": crm.pk, "at": stamp},
        "traits.plan": {"source": shop.pk, "at": stamp},
        "traits.loyalty_tier": {"source": crm.pk, "at": stamp},
        "traits.newsletter": {"source": web.pk, "at": stamp},
        "traits.lifetime_value": {"source": shop.pk, "at": stamp},
    }
    identities.append(("email", customer.email, crm, seen))
    if rng.random() < 0.6:
        identities.append(("user_id", f"u{seed}-{index:07d}", shop, seen))
    if rng.random() < 0.4:
        identities.append(("external_id", f"crm-{seed}-{index:07d}", crm, seen))
    if rng.random() < 0.5:
        # unique per person: 7 digits derived from the index
        customer.phone = dial.replace(" ", "") + f"{2000000 + (index * 7919 + seed) % 7000000}"
        identities.append(("phone", customer.phone, crm, seen))


def _events(rng, customer, device_ids, first_seen, now, web, app, shop, anonymous):
    count = rng.randint(0, 4) if anonymous else rng.randint(1, 14)
    span = (now - first_seen).total_seconds()
    events = []
    for _ in range(count):
        at = first_seen + timedelta(seconds=rng.uniform(0, span))
        kind = rng.random()
        context = {"campaign": rng.choice(vocab.CAMPAIGNS)} if rng.random() < 0.3 else {}
        if kind < 0.45:
            path, title = rng.choice(vocab.PAGES)
            event = Event(
                type="page",
                name=title,
                source=web,
                properties={"path": path, "title": title},
                context=context,
            )
        elif kind < 0.6:
            event = Event(
                type="screen",
                name=rng.choice(vocab.SCREENS),
                source=app,
                properties={},
                context=context,
            )
        else:
            sku, product, category, price = rng.choice(vocab.PRODUCTS)
            name = rng.choices(
                ("Product Viewed", "Product Added", "Checkout Started", "Order Completed"),
                weights=(6, 3, 2, 1 if anonymous else 2),
            )[0]
            properties = {"product_id": sku, "name": product, "category": category, "price": price}
            if name == "Order Completed":
                quantity = rng.randint(1, 3)
                properties.update(
                    {
                        "order_id": f"o-{rng.getrandbits(40):x}",
                        "quantity": quantity,
                        "revenue": round(price * quantity, 2),
                        "currency": "EUR",
                    }
                )
            event = Event(
                type="track",
                name=name,
                source=shop if rng.random() < 0.5 else web,
                properties=properties,
                context=context,
            )
        event.timestamp = at
        event.received_at = at + timedelta(seconds=rng.uniform(0.05, 2))
        event.message_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        event.context = {**event.context, "anonymousId": rng.choice(device_ids)}
        events.append(event)
    return events
