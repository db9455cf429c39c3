"""Profile reads for page rendering: /v1/personalize and the REST lookup against /healthz.

    .venv/bin/python benchmarks/lookup.py [--customers 100000] [--connections 20] [--duration 60]

Production-like: PostgreSQL, Redis as Django's cache (``CACHE_URL``),
gunicorn with ``deploy/gunicorn.conf.py`` (uvicorn workers, 2 per core),
``DEBUG`` off. ``--sample`` profiles (2,000) (with personalization consent, as a
shop's signed-in visitors) are read once to warm the documents, then `wrk`
(``apt-get install wrk``) holds ``--connections`` connections for
``--duration`` seconds on each URL in turn, picking a random profile per
request: ``/healthz`` (one ``SELECT 1``: the ceiling), ``GET
/v1/personalize?userId=…&userHash=…`` (write key, signed user ids) and
``GET /api/v1/profiles/user_id:…/`` (API key). Prints p50/p95/p99, req/s,
the ratio to ``/healthz`` and the load average before and after each run.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ROOT, bench_env, free_port, machine_description, manage, recreate_database

SETUP = """
from consent.services.consent import Preference, record_preferences
from consent.services.consent import get_purpose
from customers.models import Identity
from sources.models import Source
from sources.personalization.secrets import rotate_identity_secret
from sources.services.keys import create_source, rotate_write_key
import json, random
source = Source.objects.filter(name="bench-web").first()
if source is None:
    source, key = create_source(name="bench-web", kind="website")
else:
    key = rotate_write_key(source=source)
source.personalization_traits = ["first_name", "city", "plan", "lifetime_value"]
source.require_signed_user_ids = True
source.save()
secret = rotate_identity_secret(source=source)
rows = list(Identity.objects.filter(type__name="user_id").values_list("value", "customer_id"))
rows = random.Random(7).sample(rows, min(%(sample)d, len(rows)))
purpose = get_purpose("personalization")
from django.utils import timezone
record_preferences(preferences=[
    Preference(customer_id=c, purpose=purpose, granted=True, method="web_form",
               occurred_at=timezone.now()) for _v, c in rows])
print(json.dumps({"key": key, "secret": secret, "user_ids": [v for v, _c in rows]}))
"""

LUA = """
local paths = {}
local headers = {}
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  if args[2] ~= "" then headers["Authorization"] = args[2] end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end
request = function()
  return wrk.format("GET", paths[math.random(#paths)], headers)
end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "p50": %d, "p95": %d, "p99": %d, '
    .. '"status_errors": %d, "socket_errors": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), errors.status, errors.connect + errors.read + errors.write
      + errors.timeout))
end
"""


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@contextlib.contextmanager
def production_server(env: dict[str, str], workers: int):
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            "deploy/gunicorn.conf.py",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 300  # slow to boot on a loaded machine
        while time.monotonic() < deadline:  # every worker up: /healthz answers
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            time.sleep(0.5)
        time.sleep(2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def warm(base: str, paths: list[str], authorization: str) -> int:
    """Read every sampled profile once (fills the document cache); returns non-200s."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    failures = 0
    for path in paths:
        for attempt in range(3):  # the server closes idle keep-alive connections
            try:
                conn.request("GET", path, headers={"Authorization": authorization})
                response = conn.getresponse()
                response.read()
                break
            except (ConnectionError, http.client.HTTPException):
                conn.close()
                if attempt == 2:
                    raise
        failures += response.status != 200
    conn.close()
    return failures


def run_wrk(base: str, paths: list[str], authorization: str, args, workdir: Path) -> dict:
    paths_file = workdir / f"paths-{len(os.listdir(workdir))}.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    script = workdir / "pick.lua"
    script.write_text(LUA)
    before = load_average()
    output = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(args.connections),
            "-d",
            f"{args.duration}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base,
            "--",
            str(paths_file),
            authorization,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in output.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["load_before"], result["load_after"] = before, load_average()
    result["per_s"] = result["requests"] / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--duration", type=int, default=60, help="seconds per URL")
    parser.add_argument("--sample", type=int, default=2000, help="profiles read (and warmed)")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_lookup")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/4")
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    # the web processes as in production: a connection pool per worker (README)
    served_url = (
        args.database_url if "pool=" in args.database_url else args.database_url + "?pool=2"
    )
    env = bench_env(
        served_url,
        API_RATE_LIMIT="1000000/second",
        CACHE_URL=args.cache_url,
        # warm means warm: no document expires during the runs
        TRIBUTARY_PROFILE_DOCUMENT_SECONDS="3600",
    )
    # one key for every run: the identity secret is stored encrypted with it
    env["TRIBUTARY_ENCRYPTION_KEYS"] = base64.urlsafe_b64encode(
        hashlib.sha256(b"tributary lookup benchmark only").digest()
    ).decode()
    if not args.reuse:
        recreate_database(args.database_url.partition("?")[0])
    manage(env, "migrate", "--noinput")
    if not args.reuse:
        manage(env, "seed_demo", "--customers", str(args.customers), "--seed", "11")
    setup = json.loads(manage(env, "shell", "-c", SETUP % {"sample": args.sample}).splitlines()[-1])
    api_key = manage(env, "create_api_key", "lookup-bench", "--scope", "profiles:read")
    api_key = api_key.strip().splitlines()[-1]
    secret = setup["secret"].encode()
    personalize = [
        f"/v1/personalize?userId={quote(u)}&userHash="
        + hmac.new(secret, u.encode(), hashlib.sha256).hexdigest()
        for u in setup["user_ids"]
    ]
    rest = [f"/api/v1/profiles/user_id:{quote(u, safe='')}/" for u in setup["user_ids"]]
    basic = "Basic " + base64.b64encode(f"{setup['key']}:".encode()).decode()
    bearer = f"Bearer {api_key}"
    subprocess.run(["redis-cli", "-u", args.cache_url, "FLUSHDB"], check=False, capture_output=True)

    runs = {}
    with production_server(env, args.workers) as base, tempfile.TemporaryDirectory() as tmp:
        with ThreadPoolExecutor(4) as pool:
            failed = sum(pool.map(lambda i: warm(base, personalize[i::4], basic), range(4)))
        failed += warm(base, rest, bearer)
        for name, paths, auth in (
            ("healthz", ["/healthz"], ""),
            ("personalize", personalize, basic),
            ("rest", rest, bearer),
        ):
            runs[name] = run_wrk(base, paths, auth, args, Path(tmp))

    ceiling = runs["healthz"]["per_s"]
    print(f"Profile reads for page rendering — {machine_description()}")
    print(
        f"{args.customers} profiles (seed_demo), PostgreSQL + Redis, gunicorn -c "
        f"deploy/gunicorn.conf.py -w {args.workers}, wrk {args.connections} connections x "
        f"{args.duration} s per URL, warm cache ({len(personalize)} profiles, "
        f"{failed} warm-up failures)"
    )
    print("| URL | req/s | x /healthz | p50 ms | p95 ms | p99 ms | non-2xx | load before → after |")
    print("|---|---|---|---|---|---|---|---|")
    results = {}
    for name, run in runs.items():
        ratio = run["per_s"] / ceiling
        print(
            f"| {name} | {run['per_s']:.0f} | {ratio:.2f} | {run['p50'] / 1000:.1f} | "
            f"{run['p95'] / 1000:.1f} | {run['p99'] / 1000:.1f} | "
            f"{run['status_errors'] + run['socket_errors']} | "
            f"{run['load_before']} → {run['load_after']} |"
        )
        results.update(
            {
                f"lookup_{name}_requests_per_s": round(run["per_s"], 1),
                f"lookup_{name}_ratio": round(ratio, 3),
                f"lookup_{name}_p50_ms": run["p50"] / 1000,
                f"lookup_{name}_p95_ms": run["p95"] / 1000,
                f"lookup_{name}_p99_ms": run["p99"] / 1000,
                f"lookup_{name}_errors": run["status_errors"] + run["socket_errors"],
            }
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
