"""File import throughput and memory: a generated customer CSV through the pipeline.

    .venv/bin/python benchmarks/imports.py [--rows 100000] [--workers 2] [--json PATH]
        [--people mixed|new] [--repeat N] [--lock /work/bench.lock] [--code DIR]
        [--keep] [--reuse] [--profile ROWS]

On a throwaway PostgreSQL database seeded with demo people, imports a 10k-row
and then a ``--rows``-row CSV with ``manage.py import_customers`` (each in its
own process), with a Redis broker and ``--workers`` Celery worker processes
on the ``imports`` queue: the command reads and plans the file and queues its
batches, the workers apply them, the command waits for the last. A fifth of
the rows match existing people (half by email, half by phone, with other
casing/formatting), 1% carry a malformed email next to a good phone. Prints
rows/s and peak RSS per file size, of the command and of the largest worker
process: peak memory must not grow with the file. Target: 100k rows in ≤ 30 s.

``--people new`` imports issue 24's file instead: every row a new person
(email, first and last name, phone, birth date, postcode and one custom
column); target 100k rows in ≤ 15 s.

``--keep`` leaves the seeded database behind as a template
(``<name>_seeded``); ``--reuse`` starts from that template instead of
seeding again. Every timed import starts from the seeded state: its
database is copied from the template first. ``--repeat N`` imports the big
file N times; ``--code DIR`` runs ``manage.py`` and the workers from another
checkout (e.g. ``git archive main`` unpacked, its ``.venv`` linked), so that
two versions can be measured alternately on one seeded database.
``--lock PATH`` holds ``flock PATH`` while the timed imports run (not while
seeding), and the load average is printed with every figure.

``--profile ROWS`` measures nothing end to end: it runs ROWS rows of the
file through the pipeline in one process (the batches an import's workers
run, inline) under cProfile, and prints the CPU of this process and of its
PostgreSQL backend per 1,000 rows, the time of each pipeline stage and the
functions that cost the most.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import csv
import fcntl
import json
import os
import pstats
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

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
# issue 24's file: new people only
NEW_HEADER = ["Email", "First Name", "Surname", "Phone Number", "DOB", "Zip", "Loyalty Tier"]
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


def write_new_people_csv(path: Path, rows: int, offset: int) -> None:
    """Every row a person the database does not know (issue 24's file)."""
    rng = random.Random(rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(NEW_HEADER)
        for index in range(rows):
            number = offset + index
            birthday = f"19{rng.randint(50, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            writer.writerow(
                [
                    f"person{number}@import.example",
                    rng.choice(FIRST),
                    rng.choice(LAST),
                    f"+1 415 {200 + number // 10000:03d} {number % 10000:04d}",
                    birthday,
                    rng.choice(CITIES)[1],
                    rng.choice(["bronze", "silver", "gold"]),
                ]
            )


def write_file(path: Path, rows: int, *, people: str, known, offset: int) -> None:
    if people == "new":
        write_new_people_csv(path, rows, offset)
    else:
        write_csv(path, rows, known, offset)


@contextlib.contextmanager
def bench_lock(path: Path | None):
    """``flock path`` (exclusive) while the block runs; nothing without a path."""
    if path is None:
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def run_import(env: dict[str, str], path: Path, code: Path = ROOT) -> tuple[float, int, str, float]:
    """(seconds, peak RSS in KiB, summary, CPU seconds) of one import_customers process."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [PYTHON, "manage.py", "import_customers", str(path), "--source", "Bench file"],
            cwd=code,
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
    return elapsed, usage.ru_maxrss, summary, usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def import_workers(env: dict[str, str], processes: int, code: Path = ROOT):
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
        cwd=code,
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


def workers_cpu_seconds(worker: subprocess.Popen) -> float:
    """CPU seconds used so far by the worker's pool processes."""
    ticks = 0
    for child in _children(worker.pid):
        with contextlib.suppress(OSError):
            ticks += _cpu_ticks(child)
    return ticks / os.sysconf("SC_CLK_TCK")


def worker_peak_rss_kib(worker: subprocess.Popen) -> int:
    """The largest peak RSS (VmHWM) among the worker's pool processes."""
    peaks = [0]
    for child in _children(worker.pid):
        with contextlib.suppress(OSError):
            lines = Path(f"/proc/{child}/status").read_text().splitlines()
            peaks += [int(line.split()[1]) for line in lines if line.startswith("VmHWM:")]
    return max(peaks)


def copy_database(template_url: str, database_url: str) -> None:
    """The database at ``database_url`` made anew as a copy of the one at ``template_url``."""
    import psycopg

    template = '"' + urlsplit(template_url).path.lstrip("/") + '"'
    parts = urlsplit(database_url)
    name = '"' + parts.path.lstrip("/") + '"'
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")


def seeded(args, env: dict[str, str]) -> str:
    """The URL of the seeded template database (seeded now unless ``--reuse``)."""
    template_url = args.template_url or args.database_url + "_seeded"
    if not args.reuse:
        seed_env = {**env, "DATABASE_URL": template_url}
        recreate_database(template_url)
        manage(seed_env, "migrate", "--noinput")
        manage(seed_env, "seed_demo", "--customers", str(args.seed_customers), "--seed", "5")
    return template_url


def timed_imports(args, env, template_url: str, known, tmp: Path) -> list[dict]:
    """Each code version's imports, alternately, ``--repeat`` times; one row per import."""
    runs = []
    sizes = [(args.small, 0)] if args.small else []
    sizes.append((args.rows, 1_000_000))
    paths = {}
    for size, offset in sizes:
        paths[size] = tmp / f"customers_{args.people}_{size}.csv"
        write_file(paths[size], size, people=args.people, known=known, offset=offset)
    codes = args.code or [ROOT]
    # held for all the timed imports, so that the versions alternate without another
    # benchmark between them
    with bench_lock(args.lock):
        for attempt in range(1, args.repeat + 1):
            for code in codes:
                runs += _timed_attempt(args, env, template_url, sizes, paths, code, attempt)
    return runs


def _timed_attempt(args, env, template_url: str, sizes, paths, code: Path, attempt: int):
    """One version's imports on a fresh copy of the seeded database."""
    import redis

    runs = []
    copy_database(template_url, args.database_url)
    redis.Redis.from_url(args.broker).flushdb()
    with import_workers(env, args.workers, code) as worker:
        for size, _ in sizes:
            load = load_average()
            workers_cpu = workers_cpu_seconds(worker)
            seconds, rss_kib, summary, cpu = run_import(env, paths[size], code)
            workers_cpu = workers_cpu_seconds(worker) - workers_cpu
            after = load_average()
            worker_kib = worker_peak_rss_kib(worker)  # grows only if a batch needs more
            counts = {
                line.split(":")[0].strip(): line.split(":")[1].strip()
                for line in summary.splitlines()[1:8]
                if ":" in line
            }
            run = {
                "code": str(code),
                "attempt": attempt,
                "rows": size,
                "seconds": round(seconds, 1),
                "rows_per_s": round(size / seconds),
                "peak_rss_mib": round(rss_kib / 1024, 1),
                "worker_peak_rss_mib": round(worker_kib / 1024, 1),
                "command_cpu_s": round(cpu, 1),
                "workers_cpu_s": round(workers_cpu, 1),
                "load_before": load,
                "load_after": after,
                **{k: counts.get(k) for k in ("new", "updated", "merged", "invalid")},
            }
            runs.append(run)
            print(json.dumps(run), flush=True)
    return runs


def profile(args, env, template_url: str, known, tmp: Path) -> None:
    """ROWS rows through the pipeline in one process: plain (CPU), then under cProfile."""
    path = tmp / f"customers_{args.people}_{args.profile}.csv"
    write_file(path, args.profile, people=args.people, known=known, offset=1_000_000)
    code = (args.code or [ROOT])[0]
    for mode in ("plain", "cprofile"):
        copy_database(template_url, args.database_url)
        with bench_lock(args.lock):
            print(f"load average {load_average()} ({mode})", flush=True)
            subprocess.run(
                [
                    PYTHON,
                    str(Path(__file__).resolve()),
                    "--profile-child",
                    str(path),
                    mode,
                    str(args.profile_dump or ""),
                ],
                cwd=code,
                env=env,
                check=True,
            )


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


# (file, function) → label: the stages of an import batch, in order
STAGES = [
    ("sources/imports/rows.py", "build_message", "build messages"),
    ("customers/services/bulk.py", "stored_message_ids", "already imported? (all look-ups)"),
    ("sources/pipeline/planning.py", "plan_batch", "plan"),
    ("sources/pipeline/locking.py", "lock_batch", "lock"),
    ("sources/pipeline/screening.py", "screen_batch", "screen"),
    ("sources/pipeline/resolving.py", "resolve_batch", "resolve"),
    ("sources/pipeline/applying.py", "apply_batch", "apply"),
    ("sources/pipeline/persisting.py", "persist_batch", "persist"),
    ("sources/pipeline/effects.py", "effects_of_batch", "effects"),
    ("sources/imports/batches.py", "store_issues", "row report"),
    ("django/db/backends/base/base.py", "commit", "commit"),
]
# parts of the stages above, timed without cProfile (plain mode): (module the
# caller looks the function up in, function, label)
PARTS = [
    ("sources.pipeline.resolving", "find_owners", "resolve: who holds the identifiers"),
    ("sources.pipeline.resolving", "_sort_groups", "resolve: groups planned (plan, contested)"),
    ("customers.services.bulk", "number_rows", "resolve: profiles numbered"),
    ("sources.pipeline.resolving", "add_identities", "resolve: identities of known people"),
    ("customers.services.bulk", "add_identities", "resolve: identities of new people"),
    ("sources.pipeline.resolving", "create_profiles", "resolve: new profiles (all of it)"),
    ("sources.pipeline.applying", "cleanse_core", "apply: cleansing"),
    ("sources.pipeline.persisting", "record_events", "persist: events and their outbox"),
    ("customers.services.profiles", "insert_rows", "persist: profiles and outbox rows"),
    ("customers.services.profiles", "insert_history", "persist: profile history"),
]


def _time_stages(backend: int) -> dict[str, list[float]]:
    """Wrap each stage (``STAGES``) to add up its CPU here, its backend's CPU
    and its wall time (label → [cpu, backend cpu, wall])."""
    import importlib

    from django.db import connection

    ticks = os.sysconf("SC_CLK_TCK")
    totals: dict[str, list[float]] = {}

    def timed(function, label):
        spent = totals.setdefault(label, [0.0, 0.0, 0.0])
        # no query: the backend is not read
        per_row = function.__name__ in ("build_message", "cleanse_core")

        def wrapper(*args, **kwargs):
            pg = 0 if per_row else _cpu_ticks(backend)
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[0] += time.process_time() - cpu
                spent[2] += time.perf_counter() - wall
                spent[1] += 0 if per_row else (_cpu_ticks(backend) - pg) / ticks

        return wrapper

    # where each stage is looked up when it is called
    callers = {
        "build_message": ["sources.imports.batches"],
        "stored_message_ids": ["sources.imports.batches", "sources.pipeline.screening"],
        "store_issues": ["sources.imports.batches"],
    }
    for _filename, function, label in STAGES:
        if function == "commit":
            connection.commit = timed(connection.commit, label)
            continue
        for name in callers.get(function, ["sources.pipeline"]):
            module = importlib.import_module(name)
            if hasattr(module, function):
                setattr(module, function, timed(getattr(module, function), label))
    for name, function, label in PARTS:
        module = importlib.import_module(name)
        if hasattr(module, function):  # the version measured may not have it
            setattr(module, function, timed(getattr(module, function), label))
    return totals


def profile_child(path: Path, mode: str, dump: str) -> None:
    """In the checkout at the working directory: the file's batches as a worker runs them."""
    sys.path.insert(0, os.getcwd())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp_site.settings")
    import django

    django.setup()
    from itertools import islice

    from django.core.files import File
    from django.db import connection, transaction

    from sources.imports.batches import Tally, process_rows, store_issues
    from sources.imports.jobs import create_import_job, file_source, map_once
    from sources.imports.runner import BATCH_SIZE, local_file, planned

    with path.open("rb") as handle:
        job = create_import_job(
            file=File(handle),
            name=path.name,
            kind="customers",
            source=file_source(name="Bench file"),
            limit_size=False,
        )
    map_once(job=job, overrides={}, event_name="", date_order="")
    job.refresh_from_db()
    with local_file(job) as local:
        table, plan = planned(job, local)
        records = list(plan.read(table.rows()))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    profiler = cProfile.Profile() if mode == "cprofile" else None
    stages = _time_stages(backend) if profiler is None else {}
    tally = Tally()
    backend_before, started, wall = _cpu_ticks(backend), time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    iterator = iter(records)
    while batch := list(islice(iterator, BATCH_SIZE)):
        with transaction.atomic():
            store_issues(job, process_rows(job, batch, plan, tally))
    if profiler:
        profiler.disable()
    cpu, wall = time.process_time() - started, time.perf_counter() - wall
    backend_cpu = (_cpu_ticks(backend) - backend_before) / os.sysconf("SC_CLK_TCK")
    per_k = 1000 / len(records)
    print(
        f"{mode}: {len(records)} rows, wall {wall * per_k * 1000:.0f} ms/1k rows; CPU "
        f"{cpu * per_k * 1000:.0f} ms/1k rows here, {backend_cpu * per_k * 1000:.0f} in PostgreSQL"
        f"; new {tally.rows_new} updated {tally.rows_updated} merged {tally.rows_merged} "
        f"invalid {tally.rows_invalid}; peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (the file read first)"
    )
    if profiler is None:
        print(
            "| stage | CPU ms per 1k rows here | in PostgreSQL | wall |\n|---|---|---|---|\n"
            + "\n".join(
                f"| {label} | {cpu * per_k * 1000:.0f} | {pg * per_k * 1000:.0f} | "
                f"{spent * per_k * 1000:.0f} |"
                for label, (cpu, pg, spent) in stages.items()
            )
        )
        return
    stats = pstats.Stats(profiler)
    if dump:
        stats.dump_stats(dump)
    print("| stage | ms per 1k rows (cumulative wall time under cProfile) |\n|---|---|")
    for filename, function, label in STAGES:
        total = sum(
            row[3]
            for (file, _, name), row in stats.stats.items()
            if name == function and file.endswith(filename)
        )
        print(f"| {label} | {total * per_k * 1000:.0f} |")
    stats.sort_stats("cumulative").print_stats(r"(sources|customers|consent|segments|core)/", 45)
    stats.sort_stats("tottime").print_stats(25)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--profile-child":
        profile_child(Path(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--small", type=int, default=10_000, help="the first, smaller file (0: none)"
    )
    parser.add_argument("--seed-customers", type=int, default=30_000)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/bench_imports"
    )
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--broker", default=BROKER, help="Redis URL (its database is flushed)")
    parser.add_argument(
        "--people",
        choices=["mixed", "new"],
        default="mixed",
        help="mixed: a fifth of the rows known people; new: issue 24's file of new people",
    )
    parser.add_argument("--repeat", type=int, default=1, help="import the files N times")
    parser.add_argument(
        "--code",
        type=Path,
        action="append",
        help="run from this checkout (repeat the option to alternate between versions)",
    )
    parser.add_argument("--lock", type=Path, help="flock this file around the timed imports")
    parser.add_argument("--keep", action="store_true", help="keep the seeded template database")
    parser.add_argument(
        "--template-url", help="the seeded template database (default: --database-url + _seeded)"
    )
    parser.add_argument("--reuse", action="store_true", help="reuse the kept seeded database")
    parser.add_argument("--profile", type=int, metavar="ROWS", help="cProfile ROWS rows")
    parser.add_argument("--profile-dump", type=Path, help="write the cProfile stats here")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    env = bench_env(args.database_url, CELERY_BROKER_URL=args.broker)
    template_url = seeded(args, env)
    known = existing_people(template_url, 20_000) if args.people == "mixed" else []
    with tempfile.TemporaryDirectory() as tmp:
        if args.profile:
            profile(args, {**env, "CELERY_BROKER_URL": ""}, template_url, known, Path(tmp))
            runs = []
        else:
            runs = timed_imports(args, env, template_url, known, Path(tmp))
    drop_database(args.database_url)
    if not args.keep:
        drop_database(template_url)
    if not runs:
        return
    print(f"File import benchmark — {machine_description()}, PostgreSQL, Redis broker")
    who = "new people only" if args.people == "new" else "a fifth of each file's rows match them"
    print(
        f"{args.seed_customers} seeded people; {who}; manage.py import_customers, its "
        f"batches on {args.workers} Celery worker processes (imports queue)"
    )
    print(
        "| code | rows | seconds | rows/s | peak RSS command (MiB) | peak RSS worker (MiB) "
        "| CPU s command / workers | new | updated | merged | invalid | load before "
        "| load after |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        print(
            f"| {Path(run['code']).name} | {run['rows']} | {run['seconds']:.1f} | "
            f"{run['rows_per_s']} | {run['peak_rss_mib']} | {run['worker_peak_rss_mib']} | "
            f"{run['command_cpu_s']} / {run['workers_cpu_s']} | {run['new']} | "
            f"{run['updated']} | {run['merged']} | {run['invalid']} | "
            f"{run['load_before']} | {run['load_after']} |"
        )
    if args.json:
        results: dict[str, object] = {}
        for run in runs:
            size = run["rows"]
            results[f"imports_{size}_seconds"] = run["seconds"]
            results[f"imports_{size}_rows_per_s"] = run["rows_per_s"]
            results[f"imports_{size}_peak_rss_mib"] = run["peak_rss_mib"]
            results[f"imports_{size}_worker_peak_rss_mib"] = run["worker_peak_rss_mib"]
        args.json.write_text(json.dumps({"runs": runs, **results}, indent=2))


if __name__ == "__main__":
    main()
