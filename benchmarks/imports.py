"""File import throughput and memory: a generated customer CSV through the pipeline.

    .venv/bin/python benchmarks/imports.py [--rows 100000] [--workers 2] [--json PATH]

On a throwaway PostgreSQL database seeded with demo people, imports a 10k-row
and then a ``--rows``-row CSV with ``manage.py import_customers`` (each in its
own process), with a Redis broker and ``--workers`` Celery worker processes
on the ``imports`` queue: the command reads and plans the file and queues its
batches, the workers apply them, the command waits for the last. A fifth of
the rows match existing people (half by email, half by phone, with other
casing/formatting), 1% carry a malformed email next to a good phone. Prints
rows/s and peak RSS per file size, of the command and of the largest worker
process: peak memory must not grow with the file. Target: 100k rows in ≤ 30 s.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    PYTHON,
    ROOT,
    bench_env,
    drop_database,
    machine_description,
    manage,
    recreate_database,
)

BROKER = "redis://127.0.0.1:6379/9"

FIRST = ["Ann", "Bob", "Chloé", "Dmitri", "Eva", "Farid", "Greta", "Hiro", "Ines", "Jonas"]
LAST = ["Lee", "Müller", "Okafor", "Rossi", "Smith", "Tanaka", "Nguyen", "Kowalski"]
HEADER = ["Email", "Phone Number", "First Name", "Surname", "City", "Zip", "Country", "DOB"]
HEADER.append("Loyalty Tier")
CITIES = [("Berlin", "10115", "DE"), ("Paris", "75001", "FR"), ("Austin", "78701", "US")]


def existing_people(database_url: str, count: int) -> list[tuple[str, str]]:
    """(email, phone) of seeded profiles that have both."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT email, phone FROM customers_customer WHERE email <> '' AND phone <> '' "
            "AND merged_into_id IS NULL ORDER BY id LIMIT %s",
            [count],
        ).fetchall()


def write_csv(path: Path, rows: int, known: list[tuple[str, str]], offset: int) -> None:
    rng = random.Random(rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for index in range(rows):
            city, postal, country = rng.choice(CITIES)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            number = offset + index
            email = f"person{number}@import.example"
            phone = f"+1 415 {200 + number // 10000:03d} {number % 10000:04d}"
            if index % 5 == 0:  # a fifth are people we already know
                known_email, known_phone = known[(index // 5) % len(known)]
                if index % 10 == 0:
                    email, phone = known_email.upper(), ""
                else:
                    email, phone = "", known_phone
            elif index % 100 == 1:
                email = f"person{number}-at-import.example"  # bad value, row still imported
            birthday = f"19{rng.randint(50, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            tier = rng.choice(["bronze", "silver", "gold"])
            writer.writerow([email, phone, first, last, city, postal, country, birthday, tier])


def run_import(env: dict[str, str], path: Path) -> tuple[float, int, str]:
    """(seconds, peak RSS in KiB, summary) of one import_customers process."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [PYTHON, "manage.py", "import_customers", str(path), "--source", "Bench file"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        _, status, usage = os.wait4(process.pid, 0)  # the child's own peak RSS
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        summary = out.read()
    if process.returncode != 0:
        raise RuntimeError(f"import failed:\n{summary[-3000:]}")
    return elapsed, usage.ru_maxrss, summary


@contextlib.contextmanager
def import_workers(env: dict[str, str], processes: int):
    """A Celery worker with ``processes`` pool processes on the ``imports`` queue."""
    worker = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "cdp_site",
            "worker",
            "-Q",
            "imports",
            "-c",
            str(processes),
            "--prefetch-multiplier",
            "1",
            "-l",
            "warning",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while len(_children(worker.pid)) < processes and time.monotonic() < deadline:
            time.sleep(0.2)
        yield worker
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(child) for child in text.split()]
    return []


def worker_peak_rss_kib(worker: subprocess.Popen) -> int:
    """The largest peak RSS (VmHWM) among the worker's pool processes."""
    peaks = [0]
    for child in _children(worker.pid):
        with contextlib.suppress(OSError):
            lines = Path(f"/proc/{child}/status").read_text().splitlines()
            peaks += [int(line.split()[1]) for line in lines if line.startswith("VmHWM:")]
    return max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000, help="the first, smaller file")
    parser.add_argument("--seed-customers", type=int, default=30_000)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/bench_imports"
    )
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--broker", default=BROKER, help="Redis URL (its database is flushed)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import redis

    env = bench_env(args.database_url, CELERY_BROKER_URL=args.broker)
    redis.Redis.from_url(args.broker).flushdb()
    recreate_database(args.database_url)
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo", "--customers", str(args.seed_customers), "--seed", "5")
    known = existing_people(args.database_url, 20_000)

    results: dict[str, object] = {}
    table = []
    with tempfile.TemporaryDirectory() as tmp, import_workers(env, args.workers) as worker:
        for size, offset in ((args.small, 0), (args.rows, 1_000_000)):
            path = Path(tmp) / f"customers_{size}.csv"
            write_csv(path, size, known, offset)
            seconds, rss_kib, summary = run_import(env, path)
            worker_kib = worker_peak_rss_kib(worker)  # so far: grows only if a batch needs more
            counts = {
                line.split(":")[0].strip(): line.split(":")[1].strip()
                for line in summary.splitlines()[1:8]
            }
            table.append((size, seconds, size / seconds, rss_kib / 1024, worker_kib / 1024, counts))
            results[f"imports_{size}_seconds"] = round(seconds, 1)
            results[f"imports_{size}_rows_per_s"] = round(size / seconds)
            results[f"imports_{size}_peak_rss_mib"] = round(rss_kib / 1024, 1)
            results[f"imports_{size}_worker_peak_rss_mib"] = round(worker_kib / 1024, 1)
    print(f"File import benchmark — {machine_description()}, PostgreSQL, Redis broker")
    print(
        f"{args.seed_customers} seeded people; a fifth of each file's rows match them; "
        f"manage.py import_customers, its batches on {args.workers} Celery worker processes "
        "(imports queue)"
    )
    print(
        "| rows | seconds | rows/s | peak RSS command (MiB) | peak RSS worker (MiB) "
        "| new | updated | merged | invalid |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for size, seconds, rate, rss, worker_rss, counts in table:
        print(
            f"| {size} | {seconds:.1f} | {rate:.0f} | {rss:.1f} | {worker_rss:.1f} | "
            f"{counts.get('new')} | {counts.get('updated')} | {counts.get('merged')} | "
            f"{counts.get('invalid')} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    drop_database(args.database_url)


if __name__ == "__main__":
    main()
