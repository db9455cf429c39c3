"""Real Celery workers on Redis for the scale tests (publish to them: ``celery_on_redis``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
BROKER = "redis://127.0.0.1:6379/14"
# a key prefix of its own, so parallel runs sharing this Redis never mix tasks
KEY_PREFIX = f"tributary-test-{uuid.uuid4().hex[:12]}:"


def _worker_env() -> dict[str, str]:
    db = connection.settings_dict
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{host}/{db['NAME']}"
    return {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": BROKER,
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "CELERY_REDIS_KEY_PREFIX": KEY_PREFIX,
        "CELERY_WORKER_PREFETCH_MULTIPLIER": "1",
    }


def start_worker(queues: tuple[str, ...] = settings.TRIBUTARY_CELERY_QUEUES) -> subprocess.Popen:
    """A worker with two pool processes on ``queues``, in a process group of its own."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "cdp_site",
            "worker",
            "-c",
            "2",
            "-l",
            "warning",
            "-Q",
            ",".join(queues),
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=_worker_env(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill(worker: subprocess.Popen) -> None:
    """SIGKILL the worker and its pool processes: no chance to finish or acknowledge."""
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
