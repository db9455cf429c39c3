"""Profile lookup latency: GET /api/v1/profiles/email:<value>/ under 20 concurrent clients.

    .venv/bin/python benchmarks/lookup.py [--customers 100000] [--clients 20] [--requests 20000]

A real server (gunicorn, 2 workers) on PostgreSQL with a seeded database;
each client thread keeps one HTTP connection and looks up random known
emails. Prints p50/p90/p99 latency and throughput.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    bench_env,
    gunicorn,
    machine_description,
    manage,
    percentile,
    recreate_database,
)


def sample_emails(database_url: str, count: int) -> list[str]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT i.value FROM customers_identity i JOIN customers_identifiertype t "
            "ON t.id = i.type_id WHERE t.name = 'email' ORDER BY random() LIMIT %s",
            [count],
        ).fetchall()
    return [row[0] for row in rows]


def client(base: str, key: str, emails: list[str], quota: int, latencies: list, errors: list):
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    rng = random.Random(threading.get_ident())
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    for _ in range(quota):
        email = rng.choice(emails)
        started = time.perf_counter()
        conn.request("GET", f"/api/v1/profiles/email:{quote(email)}/", headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 200:
            errors.append(response.status)
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_lookup")
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    env = bench_env(args.database_url, API_RATE_LIMIT="1000000/second")
    if not args.reuse:
        recreate_database(args.database_url)
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo", "--customers", str(args.customers), "--seed", "11")
    key = manage(env, "create_api_key", "lookup-bench", "--scope", "profiles:read")
    key = key.strip().splitlines()[-1]
    emails = sample_emails(args.database_url, 5000)

    latencies: list[float] = []
    errors: list[int] = []
    per_client = args.requests // args.clients
    with gunicorn(env, workers=2) as base:
        client(base, key, emails, 50, [], [])  # warm up both workers' connections
        threads = [
            threading.Thread(target=client, args=(base, key, emails, per_client, latencies, errors))
            for _ in range(args.clients)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started

    latencies.sort()
    results = {
        "lookup_customers": args.customers,
        "lookup_clients": args.clients,
        "lookup_requests": len(latencies),
        "lookup_errors": len(errors),
        "lookup_p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "lookup_p90_ms": round(percentile(latencies, 0.90) * 1000, 2),
        "lookup_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "lookup_requests_per_s": round(len(latencies) / elapsed, 1),
    }
    print(f"Profile lookup benchmark — {machine_description()}")
    print(f"{args.customers} customers, {args.clients} clients, gunicorn -w 2, PostgreSQL")
    print("| metric | value |\n|---|---|")
    for name, value in results.items():
        print(f"| {name} | {value} |")
    if errors:
        print(f"non-200 answers: {sorted(set(errors))}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
