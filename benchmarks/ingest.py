"""Ingestion throughput: events/s accepted by /v1/batch and events/s fully processed.

    .venv/bin/python benchmarks/ingest.py [--customers 100000] [--messages 50000] [--scaling]

A real server (gunicorn, 2 workers) on PostgreSQL with a seeded database is
fed /v1/batch requests of 100 messages (identify 20 %, track 50 %, page 30 %;
a third for already-known people) from separate client processes. With no
Celery worker running, the server only stores and enqueues (Redis broker):
that is the *accepted* rate. Then Celery worker processes drain the
``ingest`` queue through the full pipeline (identity, profile, events,
segments, outbox): that is the *processed* rate, measured from the
``processed_at`` stamps. ``--scaling`` repeats the processing with 1, 2
and 4 worker processes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import random
import subprocess
import sys
import time
import uuid
from base64 import b64encode
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    PYTHON,
    ROOT,
    bench_env,
    gunicorn,
    machine_description,
    manage,
    recreate_database,
)

BROKER = "redis://127.0.0.1:6379/9"
BATCH = 100


def known_user_ids(database_url: str, count: int) -> list[str]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT i.value FROM customers_identity i JOIN customers_identifiertype t "
            "ON t.id = i.type_id WHERE t.name = 'user_id' ORDER BY random() LIMIT %s",
            [count],
        ).fetchall()
    return [row[0] for row in rows]


def make_batches(messages: int, known: list[str], seed: int) -> list[bytes]:
    rng = random.Random(seed)
    bodies = []
    for _ in range(messages // BATCH):
        batch = []
        for _ in range(BATCH):
            if rng.random() < 1 / 3:
                who = {"userId": rng.choice(known)}
            elif rng.random() < 0.5:
                who = {"userId": f"bench-{seed}-{rng.randrange(10**9)}"}
            else:
                who = {"anonymousId": str(uuid.UUID(int=rng.getrandbits(128), version=4))}
            kind = rng.random()
            common = {"messageId": str(uuid.UUID(int=rng.getrandbits(128), version=4)), **who}
            if kind < 0.2:
                n = rng.randrange(10**6)
                message = {
                    "type": "identify",
                    "traits": {"email": f"bench{seed}.{n}@example.com", "plan": "pro"},
                }
            elif kind < 0.7:
                message = {
                    "type": "track",
                    "event": rng.choice(["Product Viewed", "Product Added", "Order Completed"]),
                    "properties": {"product_id": f"SKU-{rng.randrange(100, 110)}", "price": 49.0},
                }
            else:
                message = {"type": "page", "name": "Shop", "properties": {"path": "/shop"}}
            batch.append({**message, **common})
        bodies.append(json.dumps({"batch": batch}).encode())
    return bodies


def _send(args: tuple[str, str, list[bytes]]) -> tuple[int, int]:
    base, key, bodies = args
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    headers = {
        "Content-Type": "application/json",
        "Authorization": "Basic " + b64encode(f"{key}:".encode()).decode(),
    }
    ok = failed = 0
    for body in bodies:
        conn.request("POST", "/v1/batch", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status == 200:
            ok += 1
        else:
            failed += 1
    return ok, failed


def accept(base: str, key: str, bodies: list[bytes], clients: int) -> tuple[float, int, int]:
    chunks = [bodies[i::clients] for i in range(clients)]
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        started = time.perf_counter()
        results = pool.map(_send, [(base, key, chunk) for chunk in chunks])
        elapsed = time.perf_counter() - started
    ok = sum(r[0] for r in results)
    return elapsed, ok, sum(r[1] for r in results)


def drain(env: dict[str, str], database_url: str, workers: int, expected: int) -> float:
    """Run `workers` Celery worker processes until every stored call is processed."""
    import psycopg

    worker = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "cdp_site",
            "worker",
            "-Q",
            "ingest,segments,default",
            "-c",
            str(workers),
            "-l",
            "warning",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            deadline = time.monotonic() + 1800
            while time.monotonic() < deadline:
                pending = conn.execute(
                    "SELECT count(*) FROM sources_intakemessage WHERE status <> 'processed'"
                ).fetchone()[0]
                if pending == 0:
                    break
                time.sleep(0.5)
            first, last, done = conn.execute(
                "SELECT min(processed_at), max(processed_at), count(*) "
                "FROM sources_intakemessage WHERE status = 'processed'"
            ).fetchone()
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    if done < expected:
        raise RuntimeError(f"only {done} of {expected} calls were processed")
    span = (last - first).total_seconds()
    # the first batch finishes at `first`; count what was processed after it
    return (expected - BATCH) / span if span > 0 else float("nan")


def reset_intake(database_url: str) -> None:
    """Empty the intake table, then VACUUM ANALYZE: each round starts from the
    same state whether or not the server runs autovacuum."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM sources_intakemessage")
        conn.execute("VACUUM ANALYZE")


def autovacuum_setting(database_url: str) -> str:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute("SHOW autovacuum").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--clients", type=int, default=3, help="sender processes")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--scaling", action="store_true", help="also drain with 1, 2, 4 workers")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_ingest")
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import redis

    env = bench_env(args.database_url, CELERY_BROKER_URL=BROKER, CELERY_VISIBILITY_TIMEOUT="3600")
    if not args.reuse:
        recreate_database(args.database_url)
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo", "--customers", str(args.customers), "--seed", "5")
    key = manage(env, "create_source", f"bench-{uuid.uuid4().hex[:6]}", "--kind", "server")
    key = key.strip().splitlines()[-1]
    known = known_user_ids(args.database_url, 20_000)

    results: dict[str, float | int] = {"ingest_profiles": args.customers}
    run_seed = random.SystemRandom().randrange(10**6) * 10
    rounds = [args.workers] + ([1, 2, 4] if args.scaling else [])
    rows = []
    with gunicorn(env, workers=2) as base:
        for number, workers in enumerate(rounds):
            redis.Redis.from_url(BROKER).flushdb()
            reset_intake(args.database_url)
            # a fresh seed every round and run: replaying earlier messages on a
            # reused database would measure duplicate skipping and conflicts
            bodies = make_batches(args.messages, known, seed=run_seed + number)
            _send((base, key, bodies[:3]))  # warm up
            reset_intake(args.database_url)
            redis.Redis.from_url(BROKER).flushdb()
            elapsed, ok, failed = accept(base, key, bodies, args.clients)
            accepted = ok * BATCH / elapsed
            processed = drain(env, args.database_url, workers, ok * BATCH)
            rows.append((workers, accepted, processed, failed))
            if number == 0:
                results["accepted_events_per_s"] = round(accepted, 1)
                results["processed_events_per_s"] = round(processed, 1)
                results["rejected_requests"] = failed
            else:
                results[f"processed_events_per_s_{workers}_workers"] = round(processed, 1)

    print(f"Ingestion benchmark — {machine_description()}")
    print(
        f"{args.customers} seeded profiles, {args.messages} messages a round in /v1/batch of "
        f"{BATCH}, gunicorn -w 2, {args.clients} sender processes, PostgreSQL "
        f"(autovacuum {autovacuum_setting(args.database_url)}; VACUUM ANALYZE before each "
        "round), Redis broker"
    )
    print("| worker processes | accepted events/s | processed events/s | non-200 requests |")
    print("|---|---|---|---|")
    for workers, accepted, processed, failed in rows:
        print(f"| {workers} | {accepted:,.0f} | {processed:,.0f} | {failed} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
