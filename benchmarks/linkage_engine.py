"""The linkage engine on its own (issue 22): in memory, no database, errors by cause.

    nice -n 10 .venv/bin/python benchmarks/linkage_engine.py [--people 3000] [--copies 5] \
        [--seed 7] [--merge-above 0.9] [--cap 5] [--errors PATH]

Generates the ``heavy`` preset (``corruption.py``), cleanses every row as
an import would (``cleanse_core``), and runs what ``find_duplicates`` runs
on the records (``customers.linkage``: blocking, comparisons, EM, scores,
clusters with the merge cap and the chaining guard), without the import's
identifier matches and without a database, so the figures are the
engine's own. Prints pair completeness of the blocking, precision / recall
/ F1 of the clusters over pairs of rows, the calibration table and the
errors by cause: missed true pairs (never a candidate / scored below the
threshold / held by the cluster rules) by the corruptions their two rows
carry, false joins by how the two people are related (relative, namesake,
unrelated). ``--errors PATH`` writes examples of each (rows, levels,
score) as JSON. ``linkage.py`` measures the same end to end through the
database.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from corruption import generator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = 25


def _records(rows):
    from customers.linkage.records import Record
    from customers.services.normalize import cleanse_core

    return [Record.build(index, **cleanse_core(raw)[0]) for index, (_, raw) in enumerate(rows)]


def _truth(person_of: list[int]) -> set[tuple[int, int]]:
    by_person: dict[int, list[int]] = {}
    for index, person in enumerate(person_of):
        by_person.setdefault(person, []).append(index)
    return {(a, b) for rows in by_person.values() for a in rows for b in rows if a < b}


def _calibration(values: list[tuple[float, bool]]) -> list[dict]:
    bands: dict[int, list[tuple[float, bool]]] = {}
    for value, hit in values:
        bands.setdefault(min(int(value * 10), 9), []).append((value, hit))
    return [
        {
            "band": f"{band / 10:.1f}-{(band + 1) / 10:.1f}",
            "pairs": len(items),
            "mean score": sum(v for v, _ in items) / len(items),
            "observed": sum(1 for _, hit in items if hit) / len(items),
        }
        for band, items in sorted(bands.items())
    ]


def run(args) -> dict:
    from customers.linkage.clusters import plan_clusters
    from customers.linkage.comparisons import COMPARED, LEVELS, compare
    from customers.linkage.scoring import score_records

    gen = generator(seed=args.seed, max_copies=args.copies)
    rows = gen.generate(args.people)
    person_of = [person for person, _ in rows]
    causes = [gen.causes_of(raw) for _, raw in rows]
    records = _records(rows)
    truth = _truth(person_of)
    started, cpu = time.perf_counter(), time.process_time()
    scored = score_records(records)
    scoring_cpu = time.process_time() - cpu
    model = scored.model
    values = dict(
        zip(
            zip(scored.left.tolist(), scored.right.tolist(), strict=True),
            np.round(scored.values, 4).tolist(),
            strict=True,
        )
    )
    codes = dict(zip(values, scored.codes.tolist(), strict=True))
    sure = sorted(
        ((v, i, j) for (i, j), v in values.items() if v >= args.merge_above),
        key=lambda item: (-item[0], item[1], item[2]),
    )
    plan = plan_clusters(
        sure,
        cap=args.cap,
        fits=lambda left, right: True,
        cross_score=lambda x, y: model.score(compare(records[x], records[y]), records[x]),
    )
    seconds = time.perf_counter() - started
    cluster_of = {pk: n for n, group in enumerate(plan.groups) for pk in group}
    joined = {
        (a, b) for group in plan.groups for a in group for b in group if a < b
    }  # row indexes: pk == index here
    hits = len(joined & truth)
    precision = hits / len(joined) if joined else 1.0
    recall = hits / len(truth) if truth else 1.0
    held = {(min(a, b), max(a, b)): reason for _, a, b, reason in plan.held}

    def levels_of(pair):
        code = codes.get(pair)
        if code is None:
            return compare(records[pair[0]], records[pair[1]])
        from customers.linkage.model import decode

        return decode(code)

    def described(pair):
        levels = levels_of(pair)
        return {
            "score": values.get(pair),
            "levels": {
                name: ("missing" if lv is None else LEVELS[name][lv])
                for name, lv in zip(COMPARED, levels, strict=True)
            },
            "rows": [rows[k][1] for k in pair],
            "causes": [list(causes[k]) for k in pair],
        }

    missed: dict[str, Counter] = {"not a candidate": Counter(), "below": Counter()}
    missed["held"] = Counter()
    missed_patterns: Counter = Counter()
    examples: dict[str, list] = {"not a candidate": [], "below": [], "held": [], "false": []}
    for pair in sorted(truth - joined):
        if pair not in values:
            kind = "not a candidate"
        elif pair in held or values[pair] >= args.merge_above:
            kind = "held"
        else:
            kind = "below"
        tokens = set(causes[pair[0]]) | set(causes[pair[1]])
        missed[kind].update(tokens or {"(none)"})
        missed[kind]["(pairs)"] += 1
        if kind != "held":
            missed_patterns[(kind, _pattern(levels_of(pair), COMPARED, LEVELS))] += 1
        if len(examples[kind]) < EXAMPLES:
            examples[kind].append(described(pair))
    false_joins: Counter = Counter()
    false_patterns: Counter = Counter()
    for pair in sorted(joined - truth):
        pa, pb = person_of[pair[0]], person_of[pair[1]]
        relation = gen.related.get(pa, ("", -1))
        other = gen.related.get(pb, ("", -1))
        if relation[1] == pb:
            kind = relation[0]
        elif other[1] == pa:
            kind = other[0]
        else:
            kind = "unrelated"
        direct = "direct" if values.get(pair, 0) >= args.merge_above else "through the cluster"
        false_joins[f"{kind}, {direct}"] += 1
        false_patterns[_pattern(levels_of(pair), COMPARED, LEVELS)] += 1
        if len(examples["false"]) < EXAMPLES:
            examples["false"].append({**described(pair), "relation": kind})
    candidates = set(values)
    figures = {
        "rows": len(rows),
        "true pairs": len(truth),
        "candidate pairs": len(candidates),
        "pair completeness": len(truth & candidates) / len(truth) if truth else 1.0,
        "precision": precision,
        "recall": recall,
        "F1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "clusters": len(plan.groups),
        "held": Counter(reason for *_, reason in plan.held),
        "engine s": seconds,
        "scoring CPU s": scoring_cpu,
        "CPU by stage": {stage: round(seconds, 2) for stage, seconds in scored.cpu.items()},
        "peak RSS MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "EM iterations": model.iterations,
        "share": model.share,
        "weights": {name: [round(b, 2) for b in bits] for name, bits in model.table.items()},
        "calibration": _calibration([(v, pair in truth) for pair, v in values.items()]),
        "missed by cause": {k: dict(c.most_common()) for k, c in missed.items()},
        "missed patterns": [[*k, n] for k, n in missed_patterns.most_common(15)],
        "false joins": dict(false_joins),
        "false patterns": [[k, n] for k, n in false_patterns.most_common(15)],
    }
    del cluster_of
    return figures, examples


def _pattern(levels, compared, names) -> str:
    return ", ".join(
        f"{field}={'-' if lv is None else names[field][lv]}"
        for field, lv in zip(compared, levels, strict=True)
    )


def print_report(f: dict, args) -> None:
    print(
        f"heavy preset, {args.people} people, copies ≤ {args.copies}, seed {args.seed}, "
        f"--merge-above {args.merge_above}, merge cap {args.cap}; engine in memory"
    )
    print(f"load average {os.getloadavg()}")
    print(
        "| rows | true pairs | candidate pairs | pair completeness | precision | recall | F1 "
        "| engine s (scoring CPU s) | peak RSS MiB |"
    )
    print("|---" * 9 + "|")
    print(
        f"| {f['rows']} | {f['true pairs']} | {f['candidate pairs']} "
        f"| {f['pair completeness']:.4f} | {f['precision']:.4f} | {f['recall']:.4f} "
        f"| {f['F1']:.4f} | {f['engine s']:.1f} ({f['scoring CPU s']:.1f}) "
        f"| {f['peak RSS MiB']:.0f} |"
    )
    print(f"CPU by stage: {f['CPU by stage']}")
    print(f"\nEM: {f['EM iterations']} iterations, share {f['share']:.4f}; held {dict(f['held'])}")
    for name, bits in f["weights"].items():
        print(f"  {name}: {bits}")
    print("\ncalibration (every candidate pair)")
    print("| score band | pairs | mean score | observed precision |")
    print("|---|---|---|---|")
    for row in f["calibration"]:
        print(
            f"| {row['band']} | {row['pairs']} | {row['mean score']:.3f} | {row['observed']:.3f} |"
        )
    for kind, counts in f["missed by cause"].items():
        print(f"\nmissed true pairs, {kind}: {dict(list(counts.items())[:16])}")
    print("\nmissed patterns:")
    for *key, n in f["missed patterns"]:
        print(f"  {n:5d}  {key[0]}: {key[1]}")
    print(f"\nfalse joins: {f['false joins']}")
    for key, n in f["false patterns"]:
        print(f"  {n:5d}  {key}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--merge-above", type=float, default=0.9)
    parser.add_argument("--cap", type=int, default=5, help="the merge cap (profiles per cluster)")
    parser.add_argument("--errors", type=Path, help="write examples of each error here (JSON)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp_site.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()
    figures, examples = run(args)
    print_report(figures, args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str))
    if args.errors:
        args.errors.write_text(json.dumps(examples, indent=1, ensure_ascii=False, default=str))


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    main()
