"""Erasure request time, now that erasure also searches everyone else's data for mentions.

    .venv/bin/python benchmarks/erasure.py [--customers 100000] [--erasures 5] [--reuse]

On a throwaway PostgreSQL database (bench_erasure) seeded with the demo
generator: for a few random identified people, another customer gets an
event that mentions their email (a referral), then one erasure request per
person runs as the task does (Celery eager, in this process) and is timed.
Also times the mention sweep alone (every events, outbox, trait, delivery
and raw-call row scanned) for an email nobody mentions. Prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import bench_env, machine_description, manage, percentile, recreate_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--erasures", type=int, default=5)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/bench_erasure"
    )
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    env = bench_env(args.database_url)
    if not args.reuse:
        recreate_database(args.database_url)
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo", "--customers", str(args.customers), "--seed", "5")
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "cdp_site.settings"
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from consent.models import DataSubjectRequest
    from consent.services.privacy import create_request
    from core.mentions import Mentions
    from core.models import OutboxEntry
    from customers.models import Customer, Event, Identity
    from customers.services.privacy import redact_mentions
    from sources.models import IntakeMessage, Source

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # autovacuum may be off on the benchmark machine
    emails = list(
        Identity.objects.filter(type__name="email")
        .order_by("?")
        .values_list("value", flat=True)[: args.erasures]
    )
    source = Source.objects.first()
    referrers = list(Customer.objects.exclude(email__in=emails).order_by("?")[: len(emails)])
    Event.objects.bulk_create(
        Event(
            customer=referrer,
            source=source,
            type="track",
            name="Referral Sent",
            properties={"referred_email": email},
            timestamp=timezone.now(),
            message_id=str(uuid.uuid4()),
        )
        for referrer, email in zip(referrers, emails, strict=True)
    )
    sizes = {
        "profiles": Customer.objects.count(),
        "events": Event.objects.count(),
        "outbox entries": OutboxEntry.objects.count(),
        "raw calls": IntakeMessage.objects.count(),
    }

    started = time.perf_counter()
    redact_mentions(Mentions(["nobody.mentions.me@example.invalid"]))
    sweep = time.perf_counter() - started

    timings = []
    for email in emails:
        started = time.perf_counter()
        request = create_request(type="erasure", identifier=f"email:{email}")
        timings.append(time.perf_counter() - started)
        request.refresh_from_db()
        assert request.status == DataSubjectRequest.Status.COMPLETED, request.status
    leftover = Event.objects.filter(name="Referral Sent", properties__referred_email__in=emails)
    assert not leftover.exists(), "a mention survived the erasure"
    timings.sort()

    figures = {
        "erasure request s (p50)": round(percentile(timings, 0.5), 2),
        "erasure request s (max)": round(timings[-1], 2),
        "mention sweep alone s": round(sweep, 2),
    }
    print(f"machine: {machine_description()}, load average: {os.getloadavg()[0]:.1f}")
    print(", ".join(f"{name}: {count:,}" for name, count in sizes.items()))
    print(f"| {'figure':<32} | {'value':>8} |")
    print(f"|{'-' * 34}|{'-' * 10}|")
    for name, value in figures.items():
        print(f"| {name:<32} | {value:>8} |")
    if args.json:
        args.json.write_text(json.dumps(figures))


if __name__ == "__main__":
    main()
