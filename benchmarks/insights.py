"""Insights on a simulated store: prediction quality against the simulated future,
RFM against an independent pandas computation, and training/scoring time and memory.

    nice -n 10 .venv/bin/python benchmarks/insights.py [--profiles 100000] \
        [--database-url postgres://postgres@127.0.0.1:5432/bench_insights] [--keep] \
        [--reuse [--reset]] [--profile]

Simulates the store (``benchmarks/store_sim.py``) up to now, loads it into a
throwaway PostgreSQL database, then runs ``manage.py train_models`` and
``manage.py compute_insights`` as child processes, each timed with its peak
memory (RSS, from ``wait4``) and the CPU seconds of the child and of its
PostgreSQL backends (``insights_profile.BackendCpu``); ``--profile`` runs
them in this process instead and prints where the time goes. Quality is
measured on the published scores against who really buys in the simulated
next 30 days, next to the RFM-only baseline the model was gated against.
Prints one table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from harness import bench_env, machine_description, manage, recreate_database  # noqa: E402
from insights_profile import BackendCpu  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_insights"


def run_child(env: dict, *args: str) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (GB) and output of ``manage.py ARGS``; the
    output ends with the CPU seconds of the child and of its database
    backends, and the load average before and after."""
    load = os.getloadavg()
    started = time.monotonic()
    with BackendCpu(env["DATABASE_URL"]) as backends:
        child = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        output = child.stdout.read()
        _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{output[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    output += (
        f"{' '.join(args)}: wall {wall:.0f} s, CPU {cpu:.0f} s (Python) + "
        f"{backends.seconds:.0f} s (PostgreSQL backends), load {load} → {os.getloadavg()}\n"
    )
    return wall, usage.ru_maxrss / 1024 / 1024, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure on the store a previous --keep run left (same --profiles): "
        "the simulation is repeated from its end, not loaded again",
    )
    parser.add_argument(
        "--load-only", action="store_true", help="simulate and load, then stop (implies --keep)"
    )
    parser.add_argument(
        "--reset",
        action="store_true",
        help="with --reuse: first remove what insights computed before (models, RFM runs, "
        "stored values), so the timed steps write every value for the first time",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run training and the daily run in this process and print, per stage, wall "
        "time next to the CPU time of Python and of the PostgreSQL backend, and the "
        "slowest statements (diagnosis; the timed figures come from the default mode)",
    )
    options = parser.parse_args()
    options.keep = options.keep or options.load_only

    env = bench_env(options.database_url)
    if not options.reuse:
        recreate_database(options.database_url)
        manage(env, "migrate", "--noinput")
    os.environ.update(
        {k: v for k, v in env.items() if k in ("DATABASE_URL", "SECRET_KEY", "DEBUG")}
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp_site.settings")
    import django

    django.setup()
    import numpy as np
    from django.db import connection
    from sklearn.metrics import roc_auc_score

    from benchmarks.store_sim import Config, load, simulate
    from customers.models import Customer
    from insights.models import PredictiveModel
    from insights.services import features
    from insights.services.predictions import predict
    from segments.models import StoredTraitValue
    from sources.services.keys import create_source

    if options.reuse:
        # every simulated profile was last seen at the simulation's end
        end = Customer.objects.order_by("-last_seen").values_list("last_seen", flat=True)[0]
    else:
        end = datetime.now(tz=UTC).replace(microsecond=0)
    started = time.monotonic()
    # On a reused store the simulation (the truth) is repeated after the timed steps.
    sim = None if options.reuse else simulate(Config(profiles=options.profiles), end=end)
    simulated = time.monotonic() - started
    started = time.monotonic()
    if options.reuse:
        ids = np.array(Customer.objects.order_by("pk").values_list("pk", flat=True))
        assert len(ids) == options.profiles, "--reuse needs the same --profiles"
    else:
        source, _ = create_source(name="Simulated shop", kind="website")
        ids = np.array(load(sim, source_id=source.pk, bulk=True))
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    loaded = time.monotonic() - started
    connection.close()
    if sim is not None:
        print(
            f"simulated {options.profiles:,} profiles / {len(sim.ev_person):,} events in "
            f"{simulated:.0f} s, loaded in {loaded:.0f} s",
            flush=True,
        )
    if options.load_only:
        return
    if options.reuse and options.reset:
        reset_insights()

    print(f"load average before the timed steps: {os.getloadavg()}", flush=True)
    if options.profile:
        from insights_profile import profile_insights

        train_s, train_gb, score_s, score_gb = profile_insights()
    else:
        train_s, train_gb, train_out = run_child(env, "train_models")
        print(train_out, flush=True)
        score_s, score_gb, score_out = run_child(env, "compute_insights")
        print(score_out, flush=True)
    print(f"train {train_s:.0f} s / {train_gb:.2f} GB, compute {score_s:.0f} s / {score_gb:.2f} GB")
    print(f"load average after the timed steps: {os.getloadavg()}", flush=True)
    if sim is None:
        sim = simulate(Config(profiles=options.profiles), end=end)

    rows = []
    position = {int(cid): i for i, cid in enumerate(ids)}
    for target, trait, truth in (
        ("purchase_30d", "purchase_propensity_30d", sim.bought_30d),
        ("churn_90d", "churn_risk", ~sim.bought_90d),
        ("revenue_90d", "predicted_revenue_90d", sim.revenue_90d > 0),
    ):
        model = PredictiveModel.objects.filter(target=target).order_by("-pk").first()
        stored = dict(
            StoredTraitValue.objects.filter(trait__name=trait).values_list("customer_id", "number")
        )
        frame = features.snapshot(as_of=end, names=model.params.get("event_names", []))
        if target == "churn_90d":
            frame = frame[frame["purchases_365d"] > 0]
        who = np.array([position[int(c)] for c in frame.index])
        y = truth[who].astype(int)
        baseline = predict(model.baseline_params, frame) if model.baseline_params else None
        scores = np.array([stored.get(int(c), np.nan) for c in frame.index])
        if np.isnan(scores).any():
            scores = predict(model.params, frame) if model.params else None
        auc = roc_auc_score(y, scores) if scores is not None else float("nan")
        base_auc = roc_auc_score(y, baseline) if baseline is not None else float("nan")
        top = np.argsort(-scores)[: max(1, len(scores) // 10)] if scores is not None else []
        lift = y[top].mean() / y.mean() if len(top) else float("nan")
        rows.append((target, model.status, model.auc, model.baseline_auc, auc, base_auc, lift))

    rfm_equal = check_rfm(sim, ids)
    print()
    print(machine_description() if callable(machine_description) else "")
    print(f"profiles {options.profiles:,}, events {len(sim.ev_person):,}")
    print(
        "| target | status | validation AUC | baseline | future AUC | baseline | top-decile lift |"
    )
    print("|---|---|---|---|---|---|---|")
    for target, status, v_auc, v_base, auc, base, lift in rows:
        print(
            f"| {target} | {status} | {v_auc or float('nan'):.3f} | "
            f"{v_base or float('nan'):.3f} | {auc:.3f} | {base:.3f} | {lift:.2f} |"
        )
    print()
    print("| step | wall | peak RSS |")
    print("|---|---|---|")
    print(
        f"| train_models (3 targets, scoring the published) | {train_s:.0f} s | {train_gb:.2f} GB |"
    )
    print(f"| compute_insights (RFM, stages, all scores) | {score_s:.0f} s | {score_gb:.2f} GB |")
    print(f"\nRFM quintiles equal the independent pandas computation: {rfm_equal}")
    if not options.keep:
        connection.close()
        recreate_database(options.database_url)


def reset_insights() -> None:
    """Remove what a previous run computed (not timed)."""
    from django.db import connection

    from insights.models import PredictiveModel, RfmRun
    from segments.models import StoredTraitValue

    StoredTraitValue.objects.filter(trait__producer="insights").delete()
    PredictiveModel.objects.all().delete()
    RfmRun.objects.all().delete()
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE segments_storedtraitvalue")
        cursor.execute("VACUUM ANALYZE customers_customer")
    connection.close()


def check_rfm(sim, ids) -> bool:
    """RFM from the simulated arrays with pandas, against the stored values."""
    import numpy as np
    import pandas as pd

    from insights.models import RfmRun
    from segments.models import StoredTraitValue

    run = RfmRun.objects.latest()  # the window ends when compute_insights ran, not at `end`
    window_start = (run.computed_at - sim.start).total_seconds() / 86400 - run.window_days
    buys = pd.DataFrame(
        {
            "person": sim.ev_person,
            "time": sim.ev_time,
            "kind": sim.ev_kind,
            "revenue": sim.ev_revenue,
        }
    )
    buys = buys[(buys["kind"] == 0) & (buys["time"] >= window_start)]
    per = buys.groupby("person").agg(
        recency=("time", "max"), frequency=("time", "size"), monetary=("revenue", "sum")
    )
    per["monetary"] = per["monetary"].round(2)
    per["customer_id"] = ids[per.index.to_numpy()]
    per = per.reset_index(drop=True)
    expected = {}
    for metric, trait in (
        ("recency", "rfm_recency"),
        ("frequency", "rfm_frequency"),
        ("monetary", "rfm_monetary"),
    ):
        ordered = per.sort_values([metric, "customer_id"])["customer_id"].to_numpy()
        for quintile, chunk in enumerate(np.array_split(ordered, 5), start=1):
            for cid in chunk:
                expected[(trait, int(cid))] = quintile
    stored = {
        (name, cid): int(number)
        for name, cid, number in StoredTraitValue.objects.filter(
            trait__name__in=["rfm_recency", "rfm_frequency", "rfm_monetary"]
        ).values_list("trait__name", "customer_id", "number")
    }
    return stored == expected


if __name__ == "__main__":
    main()
