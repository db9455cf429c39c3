"""What a consent column costs a file import: the same customer file with and without it.

    .venv/bin/python benchmarks/consent_import.py [--rows 2000] [--rounds 3]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_consent_import | sqlite:///PATH]

One throwaway database (PostgreSQL, or a SQLite file) is migrated once;
each round then imports, with ``manage.py import_customers`` in its own
process, a ``--rows``-row customer CSV without a consent column and the same
people's file with ``Accepts Marketing`` (yes/no, about two thirds yes),
each time as new people (fresh emails), alternating which goes first. Two
times are printed per file: the import itself (the job's start to finish,
read from the database) and the whole command (process start included).
Target (issue 21): with the consent column at most 1.3x the time without.
``--consent-segment`` first saves a segment ``{"consent": "email_marketing"}``,
so the file with the consent column also moves people into it live (issue
25: consent reaches segments in its own transaction); its final size is
printed as a check.
The CPU time of the command (its batch processes included, PostgreSQL's
work not) is printed too: it moves less than wall time on a busy machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import PYTHON, ROOT, bench_env, machine_description, manage, recreate_database

FIRST = ["Ann", "Bob", "Chloé", "Dmitri", "Eva", "Farid", "Greta", "Hiro", "Inès", "Jonas"]
LAST = ["Lee", "Müller", "Okafor", "Rossi", "Smith", "Tanaka", "Nguyen", "Kowalski"]
CITIES = [("Berlin", "DE"), ("Paris", "FR"), ("Austin", "US"), ("Zürich", "CH")]
HEADER = ["Email", "First Name", "Last Name", "Phone", "City", "Country"]
CONSENT = "Accepts Marketing"


def write_csv(path: Path, rows: int, *, tag: str, offset: int, consent: bool) -> None:
    """``rows`` people never seen before: emails tagged ``tag``, phones from ``offset`` on."""
    rng = random.Random(rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*HEADER, CONSENT] if consent else HEADER)
        for index in range(rows):
            city, country = rng.choice(CITIES)
            number = offset + index
            phone = f"+1 415 {200 + number // 10000:03d} {number % 10000:04d}"
            row = [
                f"person{index}@{tag}.example",
                rng.choice(FIRST),
                rng.choice(LAST),
                phone,
                city,
                country,
            ]
            answer = rng.choice(["yes", "yes", "no"])
            writer.writerow([*row, answer] if consent else row)


_SEGMENT = (
    "from segments.models import SegmentMembership as M; "
    "from segments.services import save_segment\n"
    "if '{action}' == 'save':\n"
    "    save_segment(name='Email opt-in', rule={{'consent': 'email_marketing'}})\n"
    "else:\n"
    "    print(M.objects.filter(exited_at__isnull=True).count())"
)


def fresh_database(database_url: str) -> None:
    if database_url.startswith("sqlite:///"):
        Path(urlsplit(database_url).path).unlink(missing_ok=True)
    else:
        recreate_database(database_url)


def run_import(env: dict[str, str], path: Path, *, consent: bool) -> tuple[float, float, float]:
    """(seconds of the import job, seconds of the whole command, CPU seconds of
    the command and its batch processes; PostgreSQL's own work is not in it)."""
    mapping = ["--map", f"{CONSENT}=consent.email_marketing"] if consent else []
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [PYTHON, "manage.py", "import_customers", str(path), "--source", path.stem, *mapping],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            out.seek(0)
            raise RuntimeError(f"import failed:\n{out.read()[-3000:]}")
    job_seconds = manage(
        env,
        "shell",
        "-c",
        "from sources.models import ImportJob; "
        f"j = ImportJob.objects.filter(original_name={path.name!r}).latest('created_at'); "
        "print((j.finished_at - j.started_at).total_seconds())",
    )
    job = float(job_seconds.strip().splitlines()[-1])
    return job, wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/bench_consent_import"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--consent-segment",
        action="store_true",
        help='save a {"consent": "email_marketing"} segment first (live membership)',
    )
    args = parser.parse_args()

    env = bench_env(args.database_url)
    fresh_database(args.database_url)
    manage(env, "migrate", "--noinput")
    if args.consent_segment:
        manage(env, "shell", "-c", _SEGMENT.format(action="save"))
    times: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_number in range(args.rounds):
            order = (False, True) if round_number % 2 == 0 else (True, False)
            for consent in order:
                tag = f"r{round_number}{'c' if consent else 'n'}"
                path = Path(tmp) / f"customers_{tag}.csv"
                offset = (2 * round_number + consent) * args.rows
                write_csv(path, args.rows, tag=tag, offset=offset, consent=consent)
                times[consent].append(run_import(env, path, consent=consent))
    vendor = "SQLite" if args.database_url.startswith("sqlite") else "PostgreSQL"

    def median(consent: bool, index: int) -> float:
        return statistics.median(t[index] for t in times[consent])

    without, with_consent = median(False, 0), median(True, 0)
    print(f"Consent column import benchmark — {machine_description()}, {vendor}")
    print(f"{args.rows} new people per file, median of {args.rounds} rounds")
    print("| file | import s | command s | command CPU s |")
    print("|---|---|---|---|")
    for consent, label in ((False, "no consent column"), (True, f"with `{CONSENT}`")):
        print(
            f"| {label} | {median(consent, 0):.2f} | {median(consent, 1):.2f} "
            f"| {median(consent, 2):.2f} |"
        )
    print(f"ratio (import): {with_consent / without:.2f}x (target ≤ 1.3x)")
    print(f"ratio (command CPU): {median(True, 2) / median(False, 2):.2f}x")
    if args.consent_segment:
        members = manage(env, "shell", "-c", _SEGMENT.format(action="count"))
        print(f"consent segment members (live, no recompute): {members.strip().splitlines()[-1]}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "consent_import_without_s": round(without, 2),
                    "consent_import_with_s": round(with_consent, 2),
                    "consent_import_ratio": round(with_consent / without, 2),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
