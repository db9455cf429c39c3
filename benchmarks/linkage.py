"""Duplicate detection on heavily corrupted copies (issue 22): quality, calibration, time.

    nice -n 10 .venv/bin/python benchmarks/linkage.py [--people 3000] [--copies 1 5] \
        [--seed 7] [--merge-above 0.9] [--load import|bulk] [--merge-cap N] [--json PATH] \
        [--details PATH] [--database-url URL] [--profile PATH] [--no-calibration]

For each ``--copies`` value a throwaway PostgreSQL database
(bench_linkage_<copies>) is filled with people from ``corruption.py``'s
``heavy`` preset (originals plus up to N corrupted copies each), imported
through ``manage.py import_customers`` exactly as a customer would (a
``record`` column keeps the truth as a non-merging identifier), so the
pipeline's own identifier matches (same email or phone) happen first.
``--load bulk`` writes the cleansed rows with ``bulk_create`` instead,
for the scale runs (100k, 1M profiles) where the import would dominate,
and to measure ``find_duplicates`` on its own (no identifier matches by
the import first). ``--merge-cap`` sets ``TRIBUTARY_MAX_MERGE_PROFILES``
for the run: the preset gives a person up to six rows (the original and
five copies), more than the default cap of five.

Then: the blocking alone (pair completeness: share of the true duplicate
pairs among active profiles that blocking puts up for comparison), every
candidate pair scored (calibration: observed share of true pairs per
0.1-wide score band next to the band's mean score), and ``find_duplicates
--merge-above S`` timed, with the resulting profiles compared with the
truth pairwise over the imported rows (precision, recall, F1).

``--no-calibration`` skips the blocking-and-calibration pass (every
candidate pair as a Python tuple: several GB at 1M profiles, more than
``find_duplicates`` itself) and frees the generated rows before
``find_duplicates``, so that the peak RSS reported is ``find_duplicates``'
own (plus the few hundred MiB the process holds before it); "peak RSS
before find_duplicates" is printed next to it: the peak is
``find_duplicates``' when it is the higher of the two.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import gc
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corruption import generate
from harness import (
    PYTHON,
    ROOT,
    bench_env,
    drop_database,
    machine_description,
    manage,
    recreate_database,
)

BASE_URL = "postgres://postgres@127.0.0.1:5432/bench_linkage_{copies}"
TRUTH_TYPE = "bench_record"
COLUMNS = ["record", "first_name", "last_name", "email", "phone", "birthday"]
COLUMNS += ["address_line1", "postal_code", "city"]


def write_csv(rows, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for index, (_, raw) in enumerate(rows):
            writer.writerow([f"r{index}", *(raw[name] for name in COLUMNS[1:])])


def load_import(rows) -> None:
    from django.core.management import call_command

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "people.csv"
        write_csv(rows, path)
        call_command(
            "import_customers",
            str(path),
            "--source",
            "benchmark file",
            "--map",
            f"record=id.{TRUTH_TYPE}",
            stdout=io.StringIO(),
        )


def load_bulk(rows) -> None:
    from customers.models import Customer, IdentifierType, Identity
    from customers.services.normalize import cleanse_core

    truth_type = IdentifierType.objects.get(name=TRUTH_TYPE)
    for start in range(0, len(rows), 20000):
        chunk = rows[start : start + 20000]
        customers = [Customer(is_identified=True, **cleanse_core(raw)[0]) for _, raw in chunk]
        Customer.objects.bulk_create(customers, batch_size=5000)
        Identity.objects.bulk_create(
            [
                Identity(type=truth_type, value=f"r{start + i}", customer=c)
                for i, c in enumerate(customers)
            ],
            batch_size=5000,
        )


def record_owners() -> dict[int, int]:
    """Row index -> the active profile holding it now."""
    from customers.models import Customer, Identity

    parent = dict(Customer.objects.values_list("pk", "merged_into_id"))

    def root(pk: int) -> int:
        while parent[pk] is not None:
            pk = parent[pk]
        return pk

    return {
        int(value[1:]): root(pk)
        for value, pk in Identity.objects.filter(type__name=TRUTH_TYPE).values_list(
            "value", "customer_id"
        )
    }


def pairwise(owners: dict[int, int], person_of: list[int]) -> dict[str, float]:
    from collections import Counter

    together = Counter(owners.values())
    persons = Counter(person_of)
    both = Counter((owners[i], person_of[i]) for i in owners)
    predicted = sum(n * (n - 1) // 2 for n in together.values())
    actual = sum(n * (n - 1) // 2 for n in persons.values())
    hits = sum(n * (n - 1) // 2 for n in both.values())
    precision = hits / predicted if predicted else 1.0
    recall = hits / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "F1": f1,
        "true pairs": actual,
        "pairs": predicted,
        "hits": hits,
    }


def profile_pairs(before: dict[int, int], after: dict[int, int], person_of: list[int]) -> dict:
    """find_duplicates on its own: pairs of the profiles it was given (as the
    load left them) that it put together, against pairs of profiles holding
    rows of one person (a profile the import wrongly merged holds two)."""
    persons: dict[int, set[int]] = {}
    cluster: dict[int, int] = {}
    for index, pk in before.items():
        persons.setdefault(pk, set()).add(person_of[index])
        cluster[pk] = after[index]
    members: dict[int, list[int]] = {}
    for pk, root in cluster.items():
        members.setdefault(root, []).append(pk)
    joined = {(a, b) for pks in members.values() for a in pks for b in pks if a < b}
    by_person: dict[int, list[int]] = {}
    for pk, held in persons.items():
        for person in held:
            by_person.setdefault(person, []).append(pk)
    true = {(a, b) for pks in by_person.values() for a in pks for b in pks if a < b}
    hits = len(joined & true)
    return {
        "precision": hits / len(joined) if joined else 1.0,
        "recall": hits / len(true) if true else 1.0,
    }


def blocking_and_calibration(owners: dict[int, int], person_of: list[int]) -> dict:
    """Pair completeness of the blocking and calibration of the scores,
    over the active profiles as the import left them."""
    from customers.services import duplicates

    persons_of_profile: dict[int, set[int]] = {}
    for index, pk in owners.items():
        persons_of_profile.setdefault(pk, set()).add(person_of[index])
    by_person: dict[int, list[int]] = {}
    for pk, persons in persons_of_profile.items():
        for person in persons:
            by_person.setdefault(person, []).append(pk)
    true_pairs = {(a, b) for pks in by_person.values() for a in pks for b in pks if a < b}
    started = time.perf_counter()
    scored = duplicates.score_all()  # [(score, (pk_a, pk_b))] for every candidate pair
    seconds = time.perf_counter() - started
    candidates = {pair for _, pair in scored}
    completeness = len(true_pairs & candidates) / len(true_pairs) if true_pairs else 1.0
    bands: dict[int, list[tuple[float, bool]]] = {}
    for value, pair in scored:
        bands.setdefault(min(int(value * 10), 9), []).append((value, pair in true_pairs))
    calibration = []
    for band in sorted(bands):
        items = bands[band]
        calibration.append(
            {
                "band": f"{band / 10:.1f}-{(band + 1) / 10:.1f}",
                "pairs": len(items),
                "mean score": sum(v for v, _ in items) / len(items),
                "observed": sum(1 for _, hit in items if hit) / len(items),
            }
        )
    return {
        "duplicate profile pairs": len(true_pairs),
        "candidate pairs": len(candidates),
        "pair completeness": completeness,
        "scoring all s": seconds,
        "calibration": calibration,
    }


def backend_cpu() -> float | None:
    """CPU seconds of this process's PostgreSQL backend so far (a server on
    this machine, whose /proc we can read), else None."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [pid] = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(
    copies: int,
    people: int,
    seed: int,
    merge_above: float,
    load: str,
    profile: Path | None,
    calibration: bool = True,
) -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    from customers.models import Customer, DuplicateSuggestion, IdentifierType

    IdentifierType.objects.create(name=TRUTH_TYPE, priority=99, max_per_profile=1000, merges=False)
    rows = generate(people=people, seed=seed, max_copies=copies)
    person_of = [person for person, _ in rows]
    started = time.perf_counter()
    (load_import if load == "import" else load_bulk)(rows)
    figures: dict = {"rows": len(rows), "load s": time.perf_counter() - started}
    owners = record_owners()
    figures["profiles"] = Customer.objects.filter(merged_into=None).count()
    figures["after load"] = pairwise(owners, person_of)
    if calibration:
        figures.update(blocking_and_calibration(owners, person_of))
    else:
        del rows
        gc.collect()
    figures["peak RSS before find_duplicates MiB"] = peak_rss_mib()
    out = io.StringIO()
    profiler = cProfile.Profile() if profile else None
    backend = backend_cpu()
    started, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    call_command("find_duplicates", merge_above=merge_above, verbosity=2, stdout=out)
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    figures["find_duplicates s"] = time.perf_counter() - started
    figures["find_duplicates CPU s"] = time.process_time() - cpu
    if backend is not None:
        figures["find_duplicates PostgreSQL CPU s"] = backend_cpu() - backend
    figures["find_duplicates peak RSS MiB"] = peak_rss_mib()
    figures["summary"] = out.getvalue().strip().splitlines()[0]
    final = record_owners()
    figures["after find_duplicates"] = pairwise(final, person_of)
    figures["find_duplicates alone"] = profile_pairs(owners, final, person_of)
    figures["left for review"] = DuplicateSuggestion.objects.filter(status="pending").count()
    figures["peak RSS MiB"] = peak_rss_mib()
    return figures


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--merge-above", type=float, default=0.9)
    parser.add_argument("--load", choices=["import", "bulk"], default="import")
    parser.add_argument("--merge-cap", type=int, help="TRIBUTARY_MAX_MERGE_PROFILES for the run")
    parser.add_argument("--json", type=Path, help="write the headline figures here")
    parser.add_argument("--details", type=Path, help="write every figure here")
    parser.add_argument(
        "--database-url",
        default=BASE_URL,
        help="PostgreSQL URL of the throwaway database, {copies} filled in "
        "(created and dropped by the run)",
    )
    parser.add_argument("--profile", type=Path, help="cProfile find_duplicates into this file")
    parser.add_argument(
        "--no-calibration",
        action="store_true",
        help="skip pair completeness and calibration (scale runs: find_duplicates' own memory)",
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        figures = run(
            args.child,
            args.people,
            args.seed,
            args.merge_above,
            args.load,
            args.profile,
            calibration=not args.no_calibration,
        )
        print(json.dumps(figures))
        return
    results = {}
    for copies in args.copies:
        url = args.database_url.format(copies=copies)
        recreate_database(url)
        env = bench_env(url)
        if args.merge_cap:
            env["TRIBUTARY_MAX_MERGE_PROFILES"] = str(args.merge_cap)
        manage(env, "migrate", "--noinput")
        child = subprocess.run(
            [
                *(PYTHON, __file__, "--child", str(copies), "--people", str(args.people)),
                *("--seed", str(args.seed), "--merge-above", str(args.merge_above)),
                *("--load", args.load),
                *(("--profile", str(args.profile)) if args.profile else ()),
                *(("--no-calibration",) if args.no_calibration else ()),
            ],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "cdp_site.settings"},
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            sys.exit(child.stderr[-3000:])
        results[copies] = json.loads(child.stdout.strip().splitlines()[-1])
        drop_database(url)
    print_tables(results, args)
    if args.json:
        flat = {}
        for copies, f in results.items():
            end = f["after find_duplicates"]
            flat[f"precision, copies ≤ {copies}"] = round(end["precision"], 4)
            flat[f"recall, copies ≤ {copies}"] = round(end["recall"], 4)
            if "pair completeness" in f:
                flat[f"pair completeness, copies ≤ {copies}"] = round(f["pair completeness"], 4)
            flat[f"find_duplicates s, copies ≤ {copies}"] = round(f["find_duplicates s"], 1)
        args.json.write_text(json.dumps(flat))
    if args.details:
        args.details.write_text(json.dumps(results, indent=1))


def print_tables(results: dict, args) -> None:
    print(
        f"heavy preset, {args.people} people, seed {args.seed}, load by {args.load}, "
        f"find_duplicates --merge-above {args.merge_above}, "
        f"merge cap {args.merge_cap or 'default (5)'}, PostgreSQL"
    )
    print(f"machine: {machine_description()}; load average {os.getloadavg()}")
    print(
        "| copies ≤ | rows | profiles after load | precision / recall after load "
        "| pair completeness | find_duplicates alone: precision / recall "
        "| precision | recall | F1 | left for review | load s "
        "| find_duplicates s (CPU s + PostgreSQL backend CPU s) "
        "| peak RSS MiB (before find_duplicates) |"
    )
    print("|---" * 13 + "|")
    for copies, f in results.items():
        end, alone = f["after find_duplicates"], f["find_duplicates alone"]
        server = f.get("find_duplicates PostgreSQL CPU s")
        server = "" if server is None else f" + {server:.1f}"
        completeness = f.get("pair completeness")
        completeness = "—" if completeness is None else f"{completeness:.4f}"
        print(
            f"| {copies} | {f['rows']} | {f['profiles']} "
            f"| {f['after load']['precision']:.4f} / {f['after load']['recall']:.4f} "
            f"| {completeness} | {alone['precision']:.4f} / {alone['recall']:.4f} "
            f"| {end['precision']:.4f} | {end['recall']:.4f} "
            f"| {end['F1']:.4f} | {f['left for review']} | {f['load s']:.1f} "
            f"| {f['find_duplicates s']:.1f} ({f['find_duplicates CPU s']:.1f}{server}) "
            f"| {f['find_duplicates peak RSS MiB']:.0f} "
            f"({f['peak RSS before find_duplicates MiB']:.0f}) |"
        )
        print(f"find_duplicates, copies ≤ {copies}: {f['summary']}")
    for copies, f in results.items():
        if "calibration" not in f:
            continue
        print(f"\ncalibration, copies ≤ {copies} (every candidate pair after the load)")
        print("| score band | pairs | mean score | observed precision |")
        print("|---|---|---|---|")
        for row in f["calibration"]:
            print(
                f"| {row['band']} | {row['pairs']} | {row['mean score']:.3f} "
                f"| {row['observed']:.3f} |"
            )


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    main()
