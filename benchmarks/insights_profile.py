"""Where the time of insights goes: per stage, wall time next to CPU time.

Used by ``benchmarks/insights.py``. On a shared machine wall time alone says
little; a stage whose wall time is far above the CPU time of Python *and*
of the PostgreSQL backend waited — on the disk, on locks, or for a core.

- ``BackendCpu`` samples, from ``/proc``, the CPU seconds of every backend
  connected to the benchmark database (parallel workers included while they
  live), for a child process timed from outside.
- ``profile_insights`` runs training and the daily run in this process with
  the chosen functions wrapped (inclusive times, nested stages counted in
  their parents too) and every statement Django sends timed.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import re
import resource
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")

# (module, function) pairs timed as stages; missing ones are skipped.
STAGES = (
    ("insights.services.predictions", "train_model"),
    ("insights.services.predictions", "score_published"),
    ("insights.services.predictions", "_fit"),
    ("insights.services.predictions", "evaluate"),
    ("insights.services.predictions", "_explanations"),
    ("insights.services.features", "snapshot"),
    ("insights.services.features", "population"),
    ("insights.services.features", "_purchase_features"),
    ("insights.services.features", "_behaviour_features"),
    ("insights.services.features", "outcomes"),
    ("insights.services.features", "behaviour_event_names"),
    ("insights.services.frames", "read_frame"),
    ("insights.services.rfm", "compute_rfm"),
    ("insights.services.rfm", "purchase_summaries"),
    ("insights.services.rfm", "buyer_frame"),
    ("insights.services.rfm", "rfm_rows"),
    ("insights.services.scoring", "compute_all_plans"),
    ("segments.stored", "replace_stored_rows"),
    ("segments.stored", "replace_stored_traits"),
    ("segments.stored", "_load_incoming"),
    ("segments.stored", "_plan"),
    ("segments.stored", "bump_versions"),
)


def sched_seconds(pid: int) -> tuple[float, float]:
    """Seconds a process ran on a core and waited in a run queue for one
    (``/proc/PID/schedstat``; 0 once it is gone)."""
    try:
        ran, waited, _slices = Path(f"/proc/{pid}/schedstat").read_text().split()
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(ran) / 1e9, int(waited) / 1e9


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


class BackendCpu:
    """CPU seconds of the PostgreSQL backends of one database, sampled every
    ``period`` seconds while a child process works (a backend's last
    sample counts: a worker that lived between two samples is missed)."""

    def __init__(self, database_url: str, period: float = 1.0) -> None:
        self.name = database_url.rsplit("/", 1)[1]
        self.admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
        self.period = period
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BackendCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.seen.values())

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            while not self._stop.is_set():
                pids = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.name]
                ).fetchall()
                for (pid,) in pids:
                    used = cpu_seconds(pid)
                    if used:
                        self.seen[pid] = max(self.seen.get(pid, 0.0), used)
                self._stop.wait(self.period)


class Stages:
    """Inclusive wall, Python CPU and backend CPU per wrapped function."""

    def __init__(self, backend_pid: int) -> None:
        self.backend_pid = backend_pid
        self.totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0.0])
        self.statements: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])

    def wrap_all(self) -> None:
        for module_name, attr in STAGES:
            module = importlib.import_module(module_name)
            original = getattr(module, attr, None)
            if original is None:
                continue
            wrapped = self._timed(f"{module_name.rsplit('.', 1)[1]}.{attr}", original)
            # also where other modules imported it by name
            for other in list(sys.modules.values()):
                if getattr(other, "__name__", "").startswith(("insights", "segments")):
                    for name, value in list(vars(other).items()):
                        if value is original:
                            setattr(other, name, wrapped)

    def _timed(self, label: str, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            wall, before = time.monotonic(), self.sample()
            try:
                return function(*args, **kwargs)
            finally:
                after = self.sample()
                row = self.totals[label]
                row[0] += 1
                row[1] += time.monotonic() - wall
                for index in range(3):
                    row[2 + index] += after[index] - before[index]

        return timed

    def sample(self) -> tuple[float, float, float]:
        """CPU seconds of this process and of the backend, and seconds both
        waited for a core."""
        ran, waited = sched_seconds(os.getpid())
        backend_ran, backend_waited = sched_seconds(self.backend_pid)
        return ran, backend_ran, waited + backend_waited

    def statement(self, execute, sql, params, many, context):
        started = time.monotonic()
        try:
            return execute(sql, params, many, context)
        finally:
            key = re.sub(r"\s+", " ", sql)
            key = re.sub(r"(%s, )+%s", "…", key)
            key = re.sub(r"\b\d+\b", "N", key)[:150]
            row = self.statements[key]
            row[0] += 1
            row[1] += time.monotonic() - started

    def report(self, title: str) -> None:
        print(f"\n{title}: per stage (inclusive), seconds")
        print(
            "| stage | calls | wall | Python CPU | backend CPU | waiting for a core | "
            "rest (I/O, locks; overlap makes it low) |"
        )
        print("|---|---|---|---|---|---|---|")
        for label, (calls, wall, cpu, backend, queued) in sorted(
            self.totals.items(), key=lambda item: -item[1][1]
        ):
            print(
                f"| {label} | {calls} | {wall:.1f} | {cpu:.1f} | {backend:.1f} | {queued:.1f} | "
                f"{wall - cpu - backend - queued:.1f} |"
            )
        print(f"\n{title}: slowest statements (sent through Django; COPY is in its stage)")
        print("| statement | calls | wall |")
        print("|---|---|---|")
        for key, (calls, wall) in sorted(self.statements.items(), key=lambda item: -item[1][1])[
            :12
        ]:
            print(f"| `{key}` | {calls} | {wall:.1f} |")
        self.totals.clear()
        self.statements.clear()


def profile_insights() -> tuple[float, float, float, float]:
    """Train, then the daily run, in this process; returns wall seconds and
    peak RSS (GB, of this process so far) of each."""
    from django.db import connection

    from insights.services import daily, predictions

    connection.ensure_connection()
    stages = Stages(connection.connection.info.backend_pid)
    stages.wrap_all()
    out = []
    for title, step in (("train_models", predictions.train_all), ("compute_insights", None)):
        step = step or daily.compute_insights
        wall, before = time.monotonic(), stages.sample()
        with connection.execute_wrapper(stages.statement):
            result = step()
        wall = time.monotonic() - wall
        cpu, backend, queued = (b - a for a, b in zip(before, stages.sample(), strict=True))
        with contextlib.suppress(AttributeError):
            for line in result.lines():
                print(line)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
        print(
            f"\n{title}: wall {wall:.1f} s, Python CPU {cpu:.1f} s, backend CPU {backend:.1f} s, "
            f"both waiting for a core {queued:.1f} s, peak RSS so far {rss:.2f} GB, "
            f"load {os.getloadavg()}"
        )
        stages.report(title)
        out += [wall, rss]
    return out[0], out[1], out[2], out[3]
