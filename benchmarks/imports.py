"""File import throughput and memory: a generated customer CSV through the pipeline.

    .venv/bin/python benchmarks/imports.py [--rows 100000] [--json PATH]

On a throwaway PostgreSQL database seeded with demo people, imports a 10k-row
and then a ``--rows``-row CSV with ``manage.py import_customers`` (each in its
own process). A fifth of the rows match existing people (half by email, half
by phone, with other casing/formatting), 1% carry a malformed email next to a
good phone. Prints rows/s and the import's peak RSS per file size (the
command and its batch processes, ``TRIBUTARY_IMPORT_WORKERS``, default 2):
peak memory must not grow with the file. Target: 100k rows in ≤ 30 s.
"""

from __future__ import annotations

import argparse
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

from harness import PYTHON, ROOT, bench_env, machine_description, manage, recreate_database

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000, help="the first, smaller file")
    parser.add_argument("--seed-customers", type=int, default=30_000)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/bench_imports"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    env = bench_env(args.database_url)
    recreate_database(args.database_url)
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo", "--customers", str(args.seed_customers), "--seed", "5")
    known = existing_people(args.database_url, 20_000)

    results: dict[str, object] = {}
    table = []
    with tempfile.TemporaryDirectory() as tmp:
        for size, offset in ((args.small, 0), (args.rows, 1_000_000)):
            path = Path(tmp) / f"customers_{size}.csv"
            write_csv(path, size, known, offset)
            seconds, rss_kib, summary = run_import(env, path)
            counts = {
                line.split(":")[0].strip(): line.split(":")[1].strip()
                for line in summary.splitlines()[1:8]
            }
            table.append((size, seconds, size / seconds, rss_kib / 1024, counts))
            results[f"imports_{size}_seconds"] = round(seconds, 1)
            results[f"imports_{size}_rows_per_s"] = round(size / seconds)
            results[f"imports_{size}_peak_rss_mib"] = round(rss_kib / 1024, 1)
    print(f"File import benchmark — {machine_description()}, PostgreSQL")
    workers = env.get("TRIBUTARY_IMPORT_WORKERS", "2")
    print(
        f"{args.seed_customers} seeded people; a fifth of each file's rows match them; "
        f"manage.py import_customers with {workers} batch processes"
    )
    print("| rows | seconds | rows/s | peak RSS (MiB) | new | updated | merged | invalid |")
    print("|---|---|---|---|---|---|---|---|")
    for size, seconds, rate, rss, counts in table:
        print(
            f"| {size} | {seconds:.1f} | {rate:.0f} | {rss:.1f} | {counts.get('new')} | "
            f"{counts.get('updated')} | {counts.get('merged')} | {counts.get('invalid')} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    psql_drop(args.database_url)


def psql_drop(database_url: str) -> None:
    from urllib.parse import urlsplit

    import psycopg

    parts = urlsplit(database_url)
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


if __name__ == "__main__":
    main()
