"""Hostile input: JSON import reading, /healthz under slow clients, intake per server kind.

    .venv/bin/python benchmarks/hostile_input.py [--messages 20000] [--json PATH]

1. Reading import files: a JSON file holding one 20 MB string (rows/s is
   meaningless there: seconds to read it), and a 100k-row JSON array (rows/s).
2. ``/healthz`` latency while 64 sockets send their headers or bodies one byte
   a second, for the documented server (``gunicorn -c deploy/gunicorn.conf.py``,
   uvicorn workers) and for sync workers (``gunicorn cdp_site.wsgi``), 2
   workers each.
3. Events/s accepted by ``/v1/batch`` (100 calls a request, 3 sender
   processes, Redis broker, no Celery worker: intake only) for both servers,
   so the change of server kind is seen not to cost intake throughput.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    PYTHON,
    ROOT,
    bench_env,
    free_port,
    machine_description,
    manage,
    recreate_database,
)
from ingest import BROKER, accept, make_batches

SERVERS = {
    "uvicorn workers (deploy/gunicorn.conf.py)": ["-c", "deploy/gunicorn.conf.py"],
    "sync workers (gunicorn cdp_site.wsgi)": ["cdp_site.wsgi"],
}


def reading_figures() -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from sources.imports.reading import open_table

    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        big = Path(folder) / "big.json"
        big.write_bytes(
            b'[{"email": "a@example.com"}, {"email": "b@example.com", "notes": "'
            + b"x" * 20_000_000
            + b'"}]'
        )
        started = time.perf_counter()
        rows = list(open_table(big).rows())
        figures["json_20mb_string_s"] = round(time.perf_counter() - started, 2)
        assert len(rows) == 2
        many = Path(folder) / "many.json"
        people = [
            {"email": f"user{i}@example.com", "first_name": "Ann", "plan": "pro", "age": i % 90}
            for i in range(100_000)
        ]
        many.write_text(json.dumps(people))
        started = time.perf_counter()
        count = sum(1 for _ in open_table(many).rows())
        figures["json_100k_rows_per_s"] = round(count / (time.perf_counter() - started))
    return figures


@contextlib.contextmanager
def serve(env: dict[str, str], args: list[str]):
    port = free_port()
    process = subprocess.Popen(
        [str(Path(PYTHON).parent / "gunicorn"), *args, "-b", f"127.0.0.1:{port}", "-w", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if healthz(port, timeout=1) is not None:
                    break
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)


def healthz(port: int, timeout: float = 10) -> float | None:
    """Seconds /healthz took, None when it did not answer within ``timeout``."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout):
            return time.monotonic() - started
    except (OSError, urllib.error.URLError):
        return None


def slow_client_latency(port: int, sockets: int = 64, seconds: int = 5) -> list[float | None]:
    head = (
        b"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 400000\r\n\r\n"
    )
    stop = threading.Event()
    opened: list[socket.socket] = []

    def dribble(payload: bytes, prefix: bytes) -> None:
        with contextlib.suppress(OSError):
            connection = socket.create_connection(("127.0.0.1", port))
            opened.append(connection)
            connection.sendall(prefix)
            for byte in payload:
                if stop.wait(1):
                    return
                connection.send(bytes([byte]))

    threads = [
        threading.Thread(
            target=dribble, args=(head, b"") if i % 2 else (b"{" * 100, head), daemon=True
        )
        for i in range(sockets)
    ]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    latencies = []
    for _ in range(seconds):
        latencies.append(healthz(port, timeout=5))
        time.sleep(0.5)
    stop.set()
    for connection in opened:
        connection.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/bench_hostile"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import redis

    results: dict[str, float | int | str] = dict(reading_figures())
    env = bench_env(args.database_url, CELERY_BROKER_URL=BROKER, ALLOWED_HOSTS="127.0.0.1")
    recreate_database(args.database_url)
    manage(env, "migrate", "--noinput")
    key = manage(env, "create_source", "bench-hostile", "--kind", "server").strip().splitlines()[-1]
    rows = []
    for number, (label, server_args) in enumerate(SERVERS.items()):
        with serve(env, server_args) as port:
            latencies = slow_client_latency(port)
            base = f"http://127.0.0.1:{port}"
            bodies = make_batches(args.messages, [f"known-{i}" for i in range(100)], seed=number)
            redis.Redis.from_url(BROKER).flushdb()
            elapsed, ok, failed = accept(base, key, bodies, args.clients)
            redis.Redis.from_url(BROKER).flushdb()
        answered = [value for value in latencies if value is not None]
        worst = max(answered) if len(answered) == len(latencies) else None
        accepted = ok * 100 / elapsed
        rows.append((label, worst, len(latencies) - len(answered), accepted, failed))
        slug = "uvicorn" if number == 0 else "sync"
        results[f"healthz_slow_clients_max_s_{slug}"] = round(worst, 3) if worst else "no answer"
        results[f"accepted_events_per_s_{slug}"] = round(accepted)

    print(f"Hostile-input benchmark — {machine_description()}")
    print(
        f"reading: 20 MB JSON string {results['json_20mb_string_s']} s; "
        f"100k-row JSON array {results['json_100k_rows_per_s']:,} rows/s"
    )
    print(
        f"servers: 2 workers; 64 slow sockets; /v1/batch of 100, {args.messages} messages, "
        f"{args.clients} senders, intake only (Redis broker, no worker), PostgreSQL"
    )
    print("| server | /healthz max, 64 slow sockets | unanswered | accepted events/s | non-200 |")
    print("|---|---|---|---|---|")
    for label, worst, missing, accepted, failed in rows:
        shown = f"{worst:.3f} s" if worst is not None else "—"
        print(f"| {label} | {shown} | {missing} of 5 | {accepted:,.0f} | {failed} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
