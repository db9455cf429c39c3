"""Back-office page times on PostgreSQL (issue 26): server time of each main page.

    .venv/bin/python benchmarks/admin_pages.py [--profiles 1000000] [--events 10000000] \
        [--requests 10] [--reuse] [--keep] [--json FILE]

Generates profiles and events with SQL (``segments.generate``: no ORM) into a
throwaway database (``bench_admin_pages``), adds one customer with 1,000
events, then signs in as a marketer and requests each page in-process through
Django's test client with production settings (``DEBUG`` off): the time is the
server's (URL routing, queries, template rendering), without a network or a
browser. Each page is requested once to warm caches, then ``--requests``
times; the table gives the median and p95. The name search (typeahead and
full search) runs over a set of partial names; the builder preview counts a
three-condition rule with its per-condition counts (estimated from a sample
on a big table; a second table compares a few rules' estimates with their
exact counts); the customer picker is the consent form's typeahead.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import (
    bench_env,
    drop_database,
    machine_description,
    manage,
    percentile,
    recreate_database,
)

# the data generator of benchmarks/segments.py (not the ``segments`` app)
_spec = importlib.util.spec_from_file_location(
    "bench_segments_data", Path(__file__).resolve().parent / "segments.py"
)
_segments_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_segments_bench)
generate = _segments_bench.generate

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_admin_pages"
SEARCH_TERMS = ["Last17", "first42 last1", "City29", "last 19", "Firs", "nobody-here"]


def add_busy_customer(events: int = 1000) -> int:
    """One customer with ``events`` events (the 360 page's heavy case)."""
    from datetime import UTC, datetime, timedelta

    from customers.models import Customer, Event
    from sources.models import Source

    earlier = Customer.objects.filter(email="sofia.rossi@example.it").first()
    if earlier is not None:  # --reuse of a database an earlier run added her to
        return earlier.pk
    source = Source.objects.order_by("pk").first()
    person = Customer.objects.create(
        first_name="Sofía", last_name="Rossi", email="sofia.rossi@example.it", is_identified=True
    )
    start = datetime(2026, 1, 1, tzinfo=UTC)
    Event.objects.bulk_create(
        Event(
            customer=person,
            source=source,
            type="track",
            name="Order Completed" if i % 5 == 0 else "Product Viewed",
            properties={"revenue": 20 + i % 50, "sku": f"SKU-{i % 97}"},
            timestamp=start + timedelta(hours=i),
            message_id=f"busy-{i}",
        )
        for i in range(events)
    )
    return person.pk


def timed(request, samples: int) -> tuple[float, float]:
    request()  # warm
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        response = request()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code in (200, 302), response.status_code
    times.sort()
    return statistics.median(times), percentile(times, 0.95)


def run(args) -> dict:
    from django.contrib.auth.models import Group
    from django.test import Client
    from django.urls import reverse

    from accounts.models import User
    from accounts.roles import MARKETER

    customer_id = add_busy_customer()
    user = User.objects.filter(username="bench-marketer").first() or User.objects.create_user(
        "bench-marketer",
        is_staff=True,  # force_login: no password
    )
    user.groups.add(Group.objects.get(name=MARKETER))
    client = Client()
    client.force_login(user)

    def get(url):
        return lambda: client.get(url)

    pages = {
        "dashboard": get(reverse("admin:index")),
        "customer list": get(reverse("admin:customers_customer_changelist")),
        "customer page (1,000 events)": get(
            reverse("admin:customers_customer_change", args=[customer_id])
        ),
        "events list": get(reverse("admin:customers_event_changelist")),
        "imports list": get(reverse("admin:sources_importjob_changelist")),
        "segments list": get(reverse("admin:segments_segment_changelist")),
    }
    # the builder's preview: count, sample and each condition's counts (one grouped query)
    rule = {
        "all": [
            {"field": "country", "op": "eq", "value": "Germany"},
            {"event": "Order Completed", "count": {"at_least": 2}, "within_days": 365},
            {"has_identifier": "email"},
        ]
    }
    pages["builder preview (3 conditions, per-condition counts)"] = lambda: client.post(
        reverse("admin:segments_builder_preview"), {"rule": rule}, content_type="application/json"
    )
    pages["dashboard, last 90 days"] = get(reverse("admin:index") + "?days=90")
    # a customer picker (the consent form's typeahead), by a partial name
    pages["customer picker"] = get(
        reverse("admin:autocomplete")
        + "?app_label=consent&model_name=consentrecord&field_name=customer&term=first42+last1"
    )
    # as a production web worker does after loading (deploy/gunicorn.conf.py):
    # what was loaded at startup stays out of every later full collection
    from core.processes import freeze_startup_heap

    freeze_startup_heap()
    rows = {name: timed(request, args.requests) for name, request in pages.items()}
    args.accuracy = preview_accuracy(rule)
    suggest, search = reverse("backoffice-suggest"), reverse("backoffice-search")
    for label, url in (("name typeahead", suggest), ("name search", search)):
        times = []
        for term in SEARCH_TERMS:
            median, p95 = timed(lambda u=url, t=term: client.post(u, {"q": t}), args.requests)
            times.append((median, p95))
        rows[f"{label} ({len(SEARCH_TERMS)} terms)"] = (
            statistics.median(m for m, _ in times),
            max(p for _, p in times),
        )
    return rows


# rules whose estimated preview is compared with the exact count
ACCURACY_RULES = {
    "the builder preview's rule above": None,
    "ordered in the last 30 days": {"event": "Order Completed", "within_days": 30},
    "lapsed (last order > 90 days ago)": {
        "event": "Order Completed",
        "last": {"op": "more_than_days_ago", "value": 90},
    },
    "viewed a page in 7 days, gmail": {
        "all": [
            {"event": "Page Viewed", "within_days": 7},
            {"field": "email", "op": "contains", "value": "@gmail."},
        ]
    },
}


def preview_accuracy(rule: dict) -> list[tuple[str, int, int, float]]:
    """(rule, estimated count, exact count, seconds of the exact count)."""
    from django.utils import timezone

    from customers.models import Customer
    from segments.compiler import compile_rule
    from segments.previews import preview

    rows = []
    for name, candidate in ACCURACY_RULES.items():
        candidate = candidate or rule
        estimated = preview(rule=candidate)["count"]
        started = time.perf_counter()
        exact = Customer.objects.active().filter(compile_rule(candidate, now=timezone.now()))
        exact = exact.count()
        rows.append((name, estimated, exact, time.perf_counter() - started))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--database-url", default=DATABASE_URL)
    parser.add_argument("--reuse", action="store_true", help="keep existing generated data")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    print(f"machine: {machine_description()}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"data: {args.profiles:,} profiles, {args.events:,} events on PostgreSQL")
    env = bench_env(args.database_url, ALLOWED_HOSTS="testserver")
    if not args.reuse:
        recreate_database(args.database_url)
        manage(env, "migrate", "--noinput")
        generate(args.database_url, args.profiles, args.events)
    manage(env, "collectstatic", "--noinput")  # production settings serve hashed files
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp_site.settings")
    import django

    django.setup()
    try:
        rows = run(args)
    finally:
        from django.db import connection

        connection.close()
        if not args.keep:
            drop_database(args.database_url)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    print(f"\n| page | median ms | p95 ms | (of {args.requests} warm requests) |")
    print("|---|---:|---:|---|")
    for name, (median, p95) in rows.items():
        print(f"| {name} | {median:.0f} | {p95:.0f} | |")
    print("\n| preview rule | estimated | exact | error | exact count s |")
    print("|---|---:|---:|---:|---:|")
    for name, estimated, exact, seconds in args.accuracy:
        error = (estimated - exact) / exact if exact else 0.0
        print(f"| {name} | {estimated:,} | {exact:,} | {error:+.1%} | {seconds:.1f} |")
    if args.json:
        figures = {k: {"median_ms": m, "p95_ms": p} for k, (m, p) in rows.items()}
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
