"""Webhook throughput: outbox dispatch and signed sends to a local receiver.

    .venv/bin/python benchmarks/webhooks.py [--entries 5000] [--destinations 2]

On a throwaway PostgreSQL database (bench_destinations): writes N
``profile.created`` outbox entries for N profiles, then times
``dispatch_outbox`` (fan-out, consent gate, payloads; Celery eager, so each
delivery is also signed and POSTed inline to a threaded receiver on
127.0.0.1, as one worker would). Prints entries/s, deliveries/s and the
per-request latency the delivery log recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import bench_env, machine_description, manage, percentile, recreate_database

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_destinations"


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--destinations", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    recreate_database(DATABASE_URL)
    env = bench_env(DATABASE_URL, TRIBUTARY_WEBHOOK_ALLOWED_HOSTS="127.0.0.1")
    manage(env, "migrate", "--noinput")
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "cdp_site.settings"
    import django

    django.setup()
    from core.models import OutboxEntry
    from customers.models import Customer
    from destinations.models import Delivery, Destination
    from destinations.services.dispatch import dispatch_outbox
    from destinations.services.operations import save_destination

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    for n in range(args.destinations):
        save_destination(destination=Destination(name=f"d{n}", url=url, on_profile_created=True))
    customers = Customer.objects.bulk_create(
        Customer(email=f"p{n}@example.com", first_name=f"P{n}") for n in range(args.entries)
    )
    OutboxEntry.objects.bulk_create(
        OutboxEntry(
            topic=OutboxEntry.Topic.PROFILE_CREATED, customer=c, payload={"customer_id": c.pk}
        )
        for c in customers
    )

    started = time.perf_counter()
    while dispatch_outbox(limit=500).entries:
        pass
    elapsed = time.perf_counter() - started
    server.shutdown()

    sent = Delivery.objects.filter(status="succeeded").count()
    latencies = sorted(
        Delivery.objects.filter(status="succeeded").values_list("last_latency_ms", flat=True)
    )
    figures = {
        "webhook entries/s (dispatch + send)": round(args.entries / elapsed),
        "webhook deliveries/s (one process)": round(sent / elapsed),
        "webhook send latency p50 ms": percentile(latencies, 0.5),
        "webhook send latency p99 ms": percentile(latencies, 0.99),
    }
    print(f"machine: {machine_description()}")
    print(
        f"entries: {args.entries}, destinations: {args.destinations}, "
        f"deliveries succeeded: {sent}, total {elapsed:.1f} s"
    )
    print(f"| {'figure':<40} | {'value':>8} |")
    print(f"|{'-' * 42}|{'-' * 10}|")
    for name, value in figures.items():
        print(f"| {name:<40} | {value:>8} |")
    if args.json:
        args.json.write_text(json.dumps(figures))
    from django.db import connections

    connections.close_all()
    recreate_database(DATABASE_URL)


if __name__ == "__main__":
    main()
