"""Run every benchmark and print one table of the headline figures.

    .venv/bin/python benchmarks/run_all.py [--profiles 100000] [--skip NAME ...]

Each benchmark runs as its own process with ``--json`` and the figures are
collected into one Markdown table, printed and written to
``benchmarks/RESULTS.md`` with the machine, database and dataset sizes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import PYTHON, ROOT, machine_description

HERE = Path(__file__).resolve().parent

# name -> (script, extra arguments by dataset size, what its figures mean)
BENCHMARKS: dict[str, tuple[str, list[str]]] = {
    "ingest": ("ingest.py", ["--scaling"]),
    "imports": ("imports.py", []),
    "consent_import": ("consent_import.py", []),
    "dedupe": ("dedupe.py", []),
    "linkage": ("linkage.py", []),
    "segments": ("segments.py", []),
    "lookup": ("lookup.py", []),
    "webhooks": ("webhooks.py", []),
    "erasure": ("erasure.py", []),
}


def postgres_version() -> str:
    import psycopg

    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres") as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def run_one(name: str, script: str, extra: list[str]) -> tuple[dict, float, str]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    started = time.monotonic()
    result = subprocess.run(
        [PYTHON, str(HERE / script), *extra, "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    print(result.stdout)
    if result.returncode != 0:
        return {}, elapsed, result.stderr[-2000:]
    return json.loads(out.read_text() or "{}"), elapsed, ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip", nargs="*", default=[])
    parser.add_argument("--only", nargs="*", default=[])
    parser.add_argument(
        "--collect",
        type=Path,
        help="build the table from bench_NAME.json files in this folder instead of running",
    )
    args = parser.parse_args()

    rows: list[tuple[str, str, object]] = []
    failures: dict[str, str] = {}
    if args.collect:
        for path in sorted(args.collect.glob("bench_*.json")):
            name = path.stem.removeprefix("bench_")
            rows.extend((name, k, v) for k, v in json.loads(path.read_text()).items())
        write_results(rows, failures, command=f"benchmarks/run_all.py --collect {args.collect}")
        return
    for name, (script, extra) in BENCHMARKS.items():
        if name in args.skip or (args.only and name not in args.only):
            continue
        if not (HERE / script).exists():
            failures[name] = f"{script} not found"
            continue
        print(f"== {name}", flush=True)
        figures, elapsed, error = run_one(name, script, extra)
        if error:
            failures[name] = error
        rows.extend((name, metric, value) for metric, value in figures.items())
        rows.append((name, "benchmark wall time (s)", round(elapsed, 1)))
    write_results(rows, failures, command="benchmarks/run_all.py")


def write_results(rows: list[tuple[str, str, object]], failures: dict[str, str], command: str):
    lines = [
        "# Tributary benchmark results",
        "",
        f"- date: {dt.datetime.now(tz=dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine_description()}",
        f"- database: PostgreSQL {postgres_version()} (local, default settings)",
        f"- command: `.venv/bin/python {command}`",
        "",
        "| benchmark | figure | value |",
        "|---|---|---|",
        *(f"| {name} | {metric} | {value} |" for name, metric, value in rows),
    ]
    if failures:
        lines += ["", "## Failures", ""]
        lines += [
            f"- **{name}**: `{error.strip().splitlines()[-1] if error.strip() else '?'}`"
            for name, error in failures.items()
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    (HERE / "RESULTS.md").write_text(text)


if __name__ == "__main__":
    main()
