"""Segment compute and live re-evaluation on PostgreSQL at 1M profiles / 10M events.

    .venv/bin/python benchmarks/segments.py [--profiles 1000000] \
        [--events 10000000] [--reuse] [--keep] [--quick] [--json FILE] \
        [--only NAME ...] [--statements]

Generates the data with SQL (generate_series, no ORM) into a throwaway
database (``bench_segments``), then prints two tables:

1. typical segments: members, first compute (membership rows + outbox
   entries written) and a recompute with nothing to change;
2. live re-evaluation of one changed profile against 50 segments (p50/p95/max).

``--reuse`` keeps an already generated database (skips generation);
``--keep`` does not drop it at the end; ``--only lapsed`` measures only the
typical segments whose name contains one of the words (and skips the live
part); ``--statements`` prints where each compute's time went, per statement
(the commit, where deferred foreign-key checks run, included).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import bench_env, drop_database, machine_description, manage, recreate_database

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_segments"
EVENT_NAMES = [
    "Page Viewed",
    "Page Viewed",
    "Page Viewed",
    "Page Viewed",
    "Product Viewed",
    "Product Viewed",
    "Added to Cart",
    "Order Completed",
    "Email Opened",
    "Signed Up",
]
COUNTRIES = ["DE", "FR", "GB", "US", "AT", "CH", "NL", "ES", "IT", "PL"]


def generate(database_url: str, profiles: int, events: int) -> None:
    import psycopg

    started = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # no FK triggers while loading
        conn.execute("SELECT setseed(0.42)")
        conn.execute(
            "INSERT INTO sources_source (name, kind, write_key_prefix, write_key_hash, "
            "write_key_rotated_at, enabled, description, created_at, identity_secret, "
            "personalization_origins, personalization_traits, require_signed_user_ids) "
            "SELECT 'Bench ' || k, k, 'bench', md5(k) || md5(k), now(), true, '', now(), '', "
            "'[]', '[]', false "
            "FROM unnest(ARRAY['website', 'mobile', 'shop', 'crm']) AS k"
        )
        sources = [r[0] for r in conn.execute("SELECT id FROM sources_source ORDER BY id")]
        conn.execute(
            """
            INSERT INTO customers_customer (id, email, phone, first_name, last_name,
                address_line1, address_line2, city, region, postal_code, country, company,
                traits, trait_provenance, is_identified, first_seen, last_seen,
                created_at, updated_at, version)
            SELECT g,
                CASE WHEN g %% 4 <> 0 THEN 'person' || g || '@'
                    || (ARRAY['gmail.com', 'example.com', 'web.de', 'yahoo.com'])[1 + (g / 4) %% 4]
                    ELSE '' END,
                '', 'First' || (g %% 500), 'Last' || (g %% 2000), '', '', 'City' || (g %% 300),
                '', '', (%(countries)s::text[])[1 + floor(random() * 10)::int], '',
                jsonb_build_object(
                    'plan',
                    (ARRAY['free', 'pro', 'team', 'enterprise'])[1 + floor(random() * 4)::int],
                    'loyalty_tier',
                    (ARRAY['bronze', 'silver', 'gold'])[1 + floor(random() * 3)::int],
                    'newsletter', random() < 0.55,
                    'lifetime_value', round((random() * 2500)::numeric, 2)),
                '{}'::jsonb, g %% 4 <> 0,
                now() - random() * interval '400 days', now() - random() * interval '60 days',
                now(), now(), 1
            FROM generate_series(1, %(n)s) AS g
            """,
            {"n": profiles, "countries": COUNTRIES},
        )
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('customers_customer', 'id'), %s)", [profiles]
        )
        email_type, anon_type = (
            conn.execute(
                "SELECT id FROM customers_identifiertype WHERE name = %s", [name]
            ).fetchone()[0]
            for name in ("email", "anonymous_id")
        )
        conn.execute(
            "INSERT INTO customers_identity (type_id, value, customer_id, source_id, first_seen) "
            "SELECT %s, email, id, %s, first_seen FROM customers_customer WHERE email <> '' "
            "UNION ALL SELECT %s, 'anon-' || id, id, %s, first_seen FROM customers_customer",
            [email_type, sources[3], anon_type, sources[0]],
        )
        print(f"  profiles and identities: {time.monotonic() - started:.0f} s", flush=True)
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'customers_event' "
            "AND indexname NOT IN ('customers_event_pkey', 'event_source_message_unique')"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        chunk = 1_000_000
        for start in range(0, events, chunk):
            conn.execute(
                """
                INSERT INTO customers_event (type, name, properties, context, timestamp,
                    received_at, message_id, customer_id, source_id)
                SELECT 'track', name,
                    CASE WHEN name = 'Order Completed' THEN jsonb_build_object(
                        'total', round((random() * 300)::numeric, 2), 'currency', 'EUR')
                    ELSE '{}'::jsonb END,
                    '{}'::jsonb, ts, ts, 'b' || g,
                    1 + floor(%(profiles)s * power(random(), 1.5))::bigint,
                    (%(sources)s::bigint[])[1 + floor(random() * 4)::int]
                FROM (
                    SELECT g, (%(names)s::text[])[1 + floor(random() * 10)::int] AS name,
                        now() - random() * interval '365 days' AS ts
                    FROM generate_series(%(start)s, %(stop)s) AS g
                ) AS rows
                """,
                {
                    "profiles": profiles,
                    "sources": sources,
                    "names": EVENT_NAMES,
                    "start": start + 1,
                    "stop": min(events, start + chunk),
                },
            )
            print(f"  events: {min(events, start + chunk):,}", flush=True)
        for _, definition in indexes:
            # pg_indexes shows a partitioned index as "ON ONLY parent": build it on every partition
            conn.execute(definition.replace(" ON ONLY ", " ON "))
        conn.execute("VACUUM ANALYZE")
    print(f"generated in {time.monotonic() - started:.0f} s", flush=True)


def typical_segments(shop_source: int) -> list[tuple[str, dict]]:
    orders_30 = {"event": "Order Completed", "within_days": 30}
    return [
        (
            "headline: 3 profile + 2 event conditions",
            {
                "all": [
                    {"field": "country", "op": "in", "value": ["DE", "AT", "CH"]},
                    {"trait": "plan", "op": "in", "value": ["pro", "team"]},
                    {"trait": "lifetime_value", "op": "gt", "value": 500},
                    {**orders_30, "count": {"at_least": 1}},
                    {"event": "Page Viewed", "within_days": 30, "count": {"at_least": 2}},
                ]
            },
        ),
        ("recent buyers (30 days)", orders_30),
        (
            "lapsed buyers (last order > 90 days)",
            {"event": "Order Completed", "last": {"op": "more_than_days_ago", "value": 90}},
        ),
        (
            "big basket (total > 250, 7 days)",
            {
                "event": "Order Completed",
                "within_days": 7,
                "where": [{"property": "total", "op": "gt", "value": 250}],
            },
        ),
        (
            "DE newsletter gold",
            {
                "all": [
                    {"field": "country", "op": "eq", "value": "de"},
                    {"trait": "newsletter", "op": "eq", "value": True},
                    {"trait": "loyalty_tier", "op": "eq", "value": "gold"},
                ]
            },
        ),
        (
            "gmail, never ordered",
            {
                "all": [
                    {"field": "email", "op": "contains", "value": "gmail"},
                    {"event": "Order Completed", "performed": False},
                ]
            },
        ),
        (
            "has email, came from shop, seen in 7 days",
            {
                "all": [
                    {"has_identifier": "email"},
                    {"source": shop_source},
                    {"field": "last_seen", "op": "within_last_days", "value": 7},
                ]
            },
        ),
    ]


def fifty_segments(typical: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    rng = random.Random(7)
    rules = []
    for index in range(50):
        name, rule = typical[index % len(typical)]
        country = rng.choice(["DE", "FR", "GB", "US", "NL"])
        variant = {
            "all": [
                rule,
                {"field": "country", "op": "neq", "value": country},
                {"trait": "lifetime_value", "op": "gte", "value": rng.randint(0, 400)},
            ]
        }
        rules.append((f"{name} #{index}", variant))
    return rules


def create_segments(rules: list[tuple[str, dict]]):
    from segments.models import Segment
    from segments.rules import dependencies, validate_rule

    created = []
    for name, rule in rules:
        validate_rule(rule)
        created.append(
            Segment.objects.create(name=name, rule=rule, dependencies=dependencies(rule))
        )
    return created


def cpu_seconds() -> float:
    """CPU time of this process and of its PostgreSQL backend (same machine):
    on a shared machine the wall time says how busy it was, this what the work cost."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    fields = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
    server = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return time.process_time() + server


@contextmanager
def statements(into: list[tuple[float, str]]):
    """Record (seconds, SQL) of every statement run inside, and the commit."""
    from django.db import connection

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            into.append((time.perf_counter() - started, " ".join(sql.split())))

    original_commit = connection.commit

    def commit():
        started = time.perf_counter()
        try:
            original_commit()
        finally:
            into.append((time.perf_counter() - started, "COMMIT (deferred foreign-key checks)"))

    connection.commit = commit
    try:
        with connection.execute_wrapper(timed):
            yield
    finally:
        del connection.commit


def print_statements(steps: dict[str, list[tuple[float, str]]]) -> None:
    for label, timings in steps.items():
        total = sum(seconds for seconds, _ in timings)
        print(f"\n{label}: {total:.3f} s in {len(timings)} statements")
        for seconds, sql in sorted(timings, reverse=True)[:8]:
            print(f"  {seconds:8.3f} s  {sql[:100]}")


def run(args) -> dict:
    from django.db import connection, transaction

    from customers.models import Customer
    from segments.models import Segment, SegmentMembership
    from segments.services import recompute_segment, reevaluate_customers

    figures: dict[str, object] = {}
    shop = connection.cursor()
    shop.execute("SELECT id FROM sources_source WHERE kind = 'shop'")
    shop_source = shop.fetchone()[0]
    Segment.objects.all().delete()
    typical = typical_segments(shop_source)

    print()
    print(
        f"{'segment':45} {'members':>9} {'compute+write s':>16} {'recompute s':>12} "
        f"{'changes':>8} {'CPU s db+py':>12} {'again CPU s':>12}"
    )
    print("-" * 120)
    if args.only:
        typical = [(n, r) for n, r in typical if any(word in n for word in args.only)]
    steps: dict[str, list[tuple[float, str]]] = {}
    for (name, _), segment in zip(typical, create_segments(typical), strict=True):
        with statements(steps.setdefault(f"{name}: first", [])):
            started, cpu = time.perf_counter(), cpu_seconds()
            result = recompute_segment(segment_id=segment.pk)
            first, first_cpu = time.perf_counter() - started, cpu_seconds() - cpu
        with statements(steps.setdefault(f"{name}: again", [])):
            started, cpu = time.perf_counter(), cpu_seconds()
            again = recompute_segment(segment_id=segment.pk)
            second, second_cpu = time.perf_counter() - started, cpu_seconds() - cpu
        # time-based rules legitimately move a few profiles between the two runs
        changes = again.entered + again.exited
        print(
            f"{name:45} {result.size:>9,} {first:>16.3f} {second:>12.3f} {changes:>8} "
            f"{first_cpu:>12.3f} {second_cpu:>12.3f}",
            flush=True,
        )
        figures[f"{name}: members"] = result.size
        figures[f"{name}: compute+write (s)"] = round(first, 3)
        figures[f"{name}: recompute (s)"] = round(second, 3)
    if args.statements:
        print_statements(steps)
    if args.only:
        return figures

    Segment.objects.all().delete()
    segments = create_segments(fifty_segments(typical))
    if not args.quick:
        started = time.perf_counter()
        for segment in segments:
            recompute_segment(segment_id=segment.pk)
        figures["recompute 50 segments (s)"] = round(time.perf_counter() - started, 1)
    members = SegmentMembership.objects.filter(exited_at__isnull=True).count()

    rng = random.Random(3)
    ids = [rng.randint(1, args.profiles) for _ in range(args.samples)]
    timings = []
    for customer_id in ids:
        traits = Customer.objects.values_list("traits", flat=True).get(pk=customer_id)
        traits["lifetime_value"] = rng.choice([0, 250, 900])
        traits["plan"] = rng.choice(["free", "pro", "team"])
        with transaction.atomic():
            Customer.objects.filter(pk=customer_id).update(traits=traits)
            started = time.perf_counter()
            reevaluate_customers(customer_ids=[customer_id], changes=["trait:lifetime_value"])
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p50, p95 = statistics.median(timings), timings[int(len(timings) * 0.95) - 1]
    print()
    print(f"re-evaluate one changed profile against 50 segments ({members:,} memberships)")
    print(f"{'samples':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    print(f"{len(timings):>8} {p50:>8.1f} {p95:>8.1f} {timings[-1]:>8.1f}")
    if not args.quick:
        print(f"recompute all 50 segments: {figures['recompute 50 segments (s)']} s")
    figures.update(
        {
            "re-evaluate 1 profile x 50 segments p50 (ms)": round(p50, 1),
            "re-evaluate 1 profile x 50 segments p95 (ms)": round(p95, 1),
        }
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--database-url", default=DATABASE_URL)
    parser.add_argument("--reuse", action="store_true", help="keep existing generated data")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="do not recompute the 50 segments first (re-evaluation starts from empty membership)",
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--only", nargs="+", metavar="WORD", help="only the typical segments named with a word"
    )
    parser.add_argument(
        "--statements", action="store_true", help="print the time of each compute's statements"
    )
    args = parser.parse_args()

    print(f"machine: {machine_description()}")
    print(f"data: {args.profiles:,} profiles, {args.events:,} events on PostgreSQL")
    env = bench_env(args.database_url)
    if not args.reuse:
        recreate_database(args.database_url)
        manage(env, "migrate", "--noinput")
        generate(args.database_url, args.profiles, args.events)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp_site.settings")
    import django

    django.setup()
    try:
        figures = run(args)
    finally:
        from django.db import connection

        connection.close()
        if not args.keep:
            drop_database(args.database_url)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
