"""Ingestion throughput: events/s accepted by /v1/batch and events/s fully processed.

    .venv/bin/python benchmarks/ingest.py [--customers 100000] [--messages 50000] [--scaling]
        [--template trib_ingest_seed] [--seed 1] [--broker redis://127.0.0.1:6379/9]

A real server (gunicorn, 2 workers) on PostgreSQL with a seeded database is
fed /v1/batch requests of 100 messages (identify 20 %, track 50 %, page 30 %;
a third for already-known people) from separate client processes. With no
Celery worker running, the server only stores and enqueues (Redis broker):
that is the *accepted* rate. Then Celery worker processes drain the
``ingest`` queue through the full pipeline (identity, profile, events,
segments, outbox): that is the *processed* rate, measured from the
``processed_at`` stamps. ``--scaling`` repeats the processing with 1, 2
and 4 worker processes.

``--template NAME`` seeds the profiles once into the database ``NAME`` and
then starts every run from a copy of it (``CREATE DATABASE … TEMPLATE``,
seconds instead of minutes), so each run measures a fresh database; with
``--seed`` the calls are the same from run to run too. The table shows the
CPU time the worker processes spent per processed event (their user + system
time from ``/proc``, between the first processed call and the last), which
is steadier than events/s on a shared machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
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
SEED = 5  # seed_demo's seed: the profiles are the same in every seeded database
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def known_user_ids(database_url: str, count: int) -> list[str]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            # ordered by a hash, not random(): the same people in every copy of a seed
            "SELECT i.value FROM customers_identity i JOIN customers_identifiertype t "
            "ON t.id = i.type_id WHERE t.name = 'user_id' ORDER BY md5(i.value) LIMIT %s",
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


def process_tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of a process and its live descendants, plus
    what its reaped children used."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name (field 2) may hold spaces: split after its ")"
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
        times[pid] = (utime + stime + (cutime + cstime if pid == root else 0)) / CLOCK_TICKS
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    return sum(times.get(pid, 0.0) for pid in tree)


def drain(
    env: dict[str, str], database_url: str, workers: int, expected: int
) -> tuple[float, float, float]:
    """Run `workers` Celery worker processes until every stored call is processed.

    Returns processed events/s, the workers' CPU µs per processed event and
    the cores they kept busy, both between the first poll that saw processed
    calls and the end (start-up and imports left out).
    """
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
            start: tuple[float, float, int] | None = None  # (wall, cpu, processed)
            while time.monotonic() < deadline:
                pending, done = conn.execute(
                    "SELECT count(*) FILTER (WHERE status <> 'processed'), "
                    "count(*) FILTER (WHERE status = 'processed') FROM sources_intakemessage"
                ).fetchone()
                sample = (time.monotonic(), process_tree_cpu(worker.pid), done)
                if start is None and done > 0:
                    start = sample
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
    rate = (expected - BATCH) / span if span > 0 else float("nan")
    if start is None or sample[2] == start[2]:
        return rate, float("nan"), float("nan")
    cpu = sample[1] - start[1]
    return rate, cpu / (sample[2] - start[2]) * 1e6, cpu / (sample[0] - start[0])


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


def copy_template(
    env: dict[str, str], database_url: str, template: str, customers: int, *, copy: bool = True
) -> None:
    """Make the run's database a fresh copy of ``template``, seeding the template
    first if it does not hold ``customers`` seeded profiles yet (without
    ``copy``, only that).

    The template is marked (a comment on the database) only once its seeding
    has finished, so an interrupted seeding is redone, not copied.
    """
    import psycopg
    from psycopg import sql

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if name == template:
        raise SystemExit("--template must name another database than --database-url")
    admin_url = parts._replace(path="/postgres").geturl()
    template_url = parts._replace(path="/" + template).geturl()
    marker = f"tributary ingest benchmark: {customers} profiles, seed_demo --seed {SEED}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [template],
        ).fetchone()
    if row is None or row[0] != marker:
        print(f"seeding {customers} profiles into {template} (once)", file=sys.stderr)
        recreate_database(template_url)
        seed_env = {**env, "DATABASE_URL": template_url}
        manage(seed_env, "migrate", "--noinput")
        manage(seed_env, "seed_demo", "--customers", str(customers), "--seed", str(SEED))
        with psycopg.connect(template_url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'COMMENT ON DATABASE "{template}" IS {sql.quote(marker)}')
    if not copy:
        return
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--clients", type=int, default=3, help="sender processes")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--scaling", action="store_true", help="also drain with 1, 2, 4 workers")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_ingest")
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    parser.add_argument(
        "--template",
        metavar="NAME",
        help="seed the profiles once into database NAME, start each run from a copy of it",
    )
    parser.add_argument(
        "--prepare",
        action="store_true",
        help="only seed the --template database (if needed), to time runs apart from it",
    )
    parser.add_argument(
        "--seed", type=int, help="seed of the calls sent (default: a new one every run)"
    )
    parser.add_argument("--broker", default=BROKER, help="Celery broker (a Redis URL)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import redis

    broker = args.broker
    env = bench_env(args.database_url, CELERY_BROKER_URL=broker, CELERY_VISIBILITY_TIMEOUT="3600")
    if args.prepare and not args.template:
        parser.error("--prepare needs --template")
    if args.template:
        copy_template(env, args.database_url, args.template, args.customers, copy=not args.prepare)
        if args.prepare:
            return
        manage(env, "migrate", "--noinput")  # the template may predate the newest migrations
    elif not args.reuse:
        recreate_database(args.database_url)
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo", "--customers", str(args.customers), "--seed", str(SEED))
    key = manage(env, "create_source", f"bench-{uuid.uuid4().hex[:6]}", "--kind", "server")
    key = key.strip().splitlines()[-1]
    known = known_user_ids(args.database_url, 20_000)

    results: dict[str, float | int] = {"ingest_profiles": args.customers}
    run_seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6) * 10
    rounds = [args.workers] + ([1, 2, 4] if args.scaling else [])
    rows = []
    with gunicorn(env, workers=2) as base:
        for number, workers in enumerate(rounds):
            redis.Redis.from_url(broker).flushdb()
            reset_intake(args.database_url)
            # a fresh seed every round and run: replaying earlier messages on a
            # reused database would measure duplicate skipping and conflicts
            bodies = make_batches(args.messages, known, seed=run_seed + number)
            _send((base, key, bodies[:3]))  # warm up
            reset_intake(args.database_url)
            redis.Redis.from_url(broker).flushdb()
            elapsed, ok, failed = accept(base, key, bodies, args.clients)
            accepted = ok * BATCH / elapsed
            processed, cpu_per_event, cores = drain(env, args.database_url, workers, ok * BATCH)
            rows.append((workers, accepted, processed, cpu_per_event, cores, failed))
            if number == 0:
                results["accepted_events_per_s"] = round(accepted, 1)
                results["processed_events_per_s"] = round(processed, 1)
                results["worker_cpu_us_per_event"] = round(cpu_per_event, 1)
                results["rejected_requests"] = failed
            else:
                results[f"processed_events_per_s_{workers}_workers"] = round(processed, 1)

    print(f"Ingestion benchmark — {machine_description()}")
    print(
        f"{args.customers} seeded profiles"
        + (f" (a fresh copy of {args.template})" if args.template else "")
        + f", {args.messages} messages a round in /v1/batch of "
        f"{BATCH} (seed {run_seed}), gunicorn -w 2, {args.clients} sender processes, PostgreSQL "
        f"(autovacuum {autovacuum_setting(args.database_url)}; VACUUM ANALYZE before each "
        "round), Redis broker; load average at the end "
        + " ".join(f"{value:.2f}" for value in os.getloadavg())
    )
    print(
        "| worker processes | accepted events/s | processed events/s "
        "| worker CPU µs/event | worker cores busy | non-200 requests |"
    )
    print("|---|---|---|---|---|---|")
    for workers, accepted, processed, cpu_per_event, cores, failed in rows:
        print(
            f"| {workers} | {accepted:,.0f} | {processed:,.0f} | {cpu_per_event:,.0f} "
            f"| {cores:.2f} | {failed} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
