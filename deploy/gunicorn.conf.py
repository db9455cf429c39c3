"""gunicorn settings for Tributary's web process: ``gunicorn -c deploy/gunicorn.conf.py``.

- uvicorn workers on ``cdp_site.asgi``: slow clients (a body sent a byte a
  second, headers that never end) hold a coroutine, not a worker; see
  ``cdp_site/serving.py``. Each worker still runs one view at a time, like a
  sync worker, so size ``workers`` as before (2 per core); warm profile reads
  (``sources/personalization/warm.py``) are answered on the event loop, many
  at a time, beside it.
- The access log (set ``TRIBUTARY_ACCESS_LOG=-`` for stdout, or a file) has
  neither the HTTP Basic user (a write key) nor emails or phone numbers:
  they are masked in request paths and query strings.

Every value can be overridden on the command line (``-b``, ``-w`` …) or by
the environment variables read below.
"""

import multiprocessing
import os

wsgi_app = "cdp_site.asgi:application"
worker_class = "cdp_site.serving.Worker"
bind = os.environ.get("TRIBUTARY_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
# most connections one worker holds, slow ones included (then 503)
worker_connections = int(os.environ.get("TRIBUTARY_WORKER_CONNECTIONS", 1000))
# A worker is replaced after this many requests (0: never), as a guard
# against slow memory growth; each replacement costs a Django start (about a
# second of CPU, with its requests queued behind it). At 5000 a 2-core machine
# serving profile reads (~100-150 requests/s per worker) replaced a worker every
# 30-60 s, and all of them at about the same time; at 200,000 it is every
# 20-30 minutes under that load, days under ordinary traffic, and the jitter
# (10%) keeps the workers from restarting together.
max_requests = int(os.environ.get("TRIBUTARY_MAX_REQUESTS", 200_000))
max_requests_jitter = max_requests // 10
timeout = 30
graceful_timeout = 30
keepalive = 5

accesslog = os.environ.get("TRIBUTARY_ACCESS_LOG") or None
# for sync workers (uvicorn writes its own line: client, request line, status);
# no %(u)s (the Basic-auth user is a write key), no %(q)s (query strings)
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def post_worker_init(worker):
    # gunicorn reads this file before Django is set up: import once the worker has it
    from cdp_site.serving import redact_access_log
    from core.processes import freeze_startup_heap

    redact_access_log()
    freeze_startup_heap()
