"""Duplicate detection: precision, recall, F1 and run time of `find_duplicates --merge-above`.

    .venv/bin/python benchmarks/dedupe.py [--sizes 10000 100000] [--seed 7]

For each size, a throwaway PostgreSQL database (bench_identity_<size>) is
filled with generated people whose truth is known: originals plus corrupted
copies (typos, swapped names, nicknames, ALL-CAPS, missing fields, changed
addresses, reformatted or transposed birthdays, mistyped emails and phones),
distinct people who share a full name, and relatives who share a last name,
an address and often a phone. Raw values go through the
same cleansing as every other way in. Then `manage.py find_duplicates
--merge-above <default>` runs, timed, and the merged clusters are compared
with the truth pairwise. Prints one table; `--json PATH` writes the figures.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    PYTHON,
    ROOT,
    bench_env,
    drop_database,
    machine_description,
    manage,
    recreate_database,
)

BASE_URL = "postgres://postgres@127.0.0.1:5432/bench_identity_{size}"
AREA_CODES = [212, 213, 305, 312, 404, 415, 503, 512, 617, 646, 702, 713, 718, 801, 916, 206]
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "web.de", "proton.me", "icloud.com"]
NICK = {
    "William": "Bill",
    "Robert": "Bob",
    "Richard": "Rick",
    "James": "Jim",
    "Michael": "Mike",
    "Katherine": "Kate",
    "Elizabeth": "Liz",
    "Margaret": "Maggie",
    "Thomas": "Tom",
    "Joseph": "Joe",
    "Daniel": "Dan",
    "David": "Dave",
    "Christopher": "Chris",
    "Matthew": "Matt",
    "Anthony": "Tony",
    "Steven": "Steve",
    "Samuel": "Sam",
    "Benjamin": "Ben",
    "Alexander": "Alex",
    "Andrew": "Andy",
    "Nicholas": "Nick",
    "Edward": "Ed",
    "Jennifer": "Jen",
    "Patricia": "Pat",
}


# --- generation -------------------------------------------------------------------


def typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.choice(["swap", "drop", "double", "replace"])
    if kind == "swap":
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == "drop":
        return text[:i] + text[i + 1 :]
    if kind == "double":
        return text[:i] + text[i] + text[i:]
    return text[:i] + rng.choice("aeiourstnl") + text[i + 1 :]


def new_person(fake, rng: random.Random, first: str | None = None, last: str | None = None):
    first = first or fake.first_name()
    last = last or fake.last_name()
    birthday = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 65))
    local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randrange(100)}"])
    return {
        "first_name": first,
        "last_name": last,
        "email": f"{local.lower()}{rng.randrange(1000)}@{rng.choice(DOMAINS)}",
        "phone": f"+1{rng.choice(AREA_CODES)}{rng.randrange(200, 999)}{rng.randrange(10000):04d}",
        "birthday": birthday.isoformat(),
        "address_line1": fake.street_address(),
        "postal_code": fake.postcode(),
        "city": fake.city(),
    }


def corrupt(fake, rng: random.Random, original: dict) -> dict:
    copy = dict(original)
    kinds = [
        "name_typo",
        "swap_names",
        "nickname",
        "caps",
        "no_email",
        "no_phone",
        "no_birthday",
        "moved",
        "email_typo",
        "phone_typo",
        "date_format",
        "date_transposed",
    ]
    for kind in rng.sample(kinds, rng.choice([1, 2, 2, 3])):
        if kind == "name_typo":
            field = rng.choice(["first_name", "last_name"])
            copy[field] = typo(rng, copy[field])
        elif kind == "swap_names":
            copy["first_name"], copy["last_name"] = copy["last_name"], copy["first_name"]
        elif kind == "nickname" and copy["first_name"] in NICK:
            copy["first_name"] = NICK[copy["first_name"]]
        elif kind == "caps":
            copy["first_name"], copy["last_name"] = (
                copy["first_name"].upper(),
                copy["last_name"].upper(),
            )
        elif kind in ("no_email", "no_phone", "no_birthday"):
            copy[{"no_email": "email", "no_phone": "phone", "no_birthday": "birthday"}[kind]] = ""
        elif kind == "moved":
            copy.update(
                address_line1=fake.street_address(), postal_code=fake.postcode(), city=fake.city()
            )
        elif kind == "email_typo" and copy["email"]:
            local, _, domain = copy["email"].partition("@")
            copy["email"] = f"{typo(rng, local)}@{domain}"
        elif kind == "phone_typo" and copy["phone"]:
            copy["phone"] = copy["phone"][:5] + typo(rng, copy["phone"][5:])
        elif kind == "date_format" and copy["birthday"]:
            day = date.fromisoformat(copy["birthday"])
            copy["birthday"] = rng.choice(
                [day.strftime("%d.%m.%Y"), day.strftime("%Y%m%d"), day.strftime("%B %d, %Y")]
            )
        elif kind == "date_transposed" and copy["birthday"][4:5] == "-":
            day = date.fromisoformat(copy["birthday"])
            if day.day <= 12 and day.day != day.month:
                copy["birthday"] = date(day.year, day.day, day.month).isoformat()
    return copy


def generate(size: int, seed: int) -> list[tuple[int, dict]]:
    """(person id, raw values) rows: ~82% originals, ~11% corrupted copies, ~4%
    namesakes (same first and last name, otherwise different), ~3% relatives
    (same last name and address, half of them the same phone)."""
    from faker import Faker

    fake = Faker(["en_US", "en_GB", "de_DE"])
    Faker.seed(seed)
    rng = random.Random(seed)
    rows: list[tuple[int, dict]] = []
    people: list[dict] = []
    while len(rows) < size:
        roll = rng.random()
        if people and roll < 0.11:
            person_id = rng.randrange(len(people))
            rows.append((person_id, corrupt(fake, rng, people[person_id])))
            continue
        if people and roll < 0.15:
            twin = people[rng.randrange(len(people))]
            person = new_person(fake, rng, twin["first_name"], twin["last_name"])
        elif people and roll < 0.18:
            relative = people[rng.randrange(len(people))]
            person = new_person(fake, rng, last=relative["last_name"])
            for field in ("address_line1", "postal_code", "city"):
                person[field] = relative[field]
            if rng.random() < 0.5:
                person["phone"] = relative["phone"]
        else:
            person = new_person(fake, rng)
        people.append(person)
        rows.append((len(people) - 1, person))
    rng.shuffle(rows)
    return rows


# --- one size, in a fresh database (runs in a child process) --------------------------


def load(rows: list[tuple[int, dict]]) -> dict[int, int]:
    from customers.models import Customer, IdentifierType, Identity
    from customers.services.normalize import cleanse_core

    customers = []
    for _, raw in rows:
        clean, _issues = cleanse_core(raw)
        customers.append(Customer(is_identified=True, **clean))
    Customer.objects.bulk_create(customers, batch_size=5000)
    crm = IdentifierType.objects.get(name="external_id")
    Identity.objects.bulk_create(
        [Identity(type=crm, value=f"crm-{c.pk}", customer=c) for c in customers], batch_size=5000
    )
    return {c.pk: person_id for c, (person_id, _) in zip(customers, rows, strict=True)}


def pairs_in(clusters: dict[object, list[int]]) -> set[tuple[int, int]]:
    found = set()
    for members in clusters.values():
        members = sorted(members)
        found.update((a, b) for i, a in enumerate(members) for b in members[i + 1 :])
    return found


def evaluate(truth: dict[int, int]) -> dict[str, float]:
    from customers.models import Customer

    parent = dict(Customer.objects.values_list("pk", "merged_into_id"))

    def root(pk: int) -> int:
        while parent[pk] is not None:
            pk = parent[pk]
        return pk

    predicted: dict[int, list[int]] = {}
    actual: dict[int, list[int]] = {}
    for pk, person in truth.items():
        predicted.setdefault(root(pk), []).append(pk)
        actual.setdefault(person, []).append(pk)
    merged, true = pairs_in(predicted), pairs_in(actual)
    hits = len(merged & true)
    precision = hits / len(merged) if merged else 1.0
    recall = hits / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "true pairs": len(true),
        "merged pairs": len(merged),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "F1": round(f1, 4),
    }


def run_size(size: int, seed: int) -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    from customers.models import DuplicateSuggestion
    from customers.services.duplicates import DEFAULT_MERGE_ABOVE

    truth = load(generate(size, seed))
    out = io.StringIO()
    started = time.perf_counter()
    call_command("find_duplicates", merge_above=DEFAULT_MERGE_ABOVE, verbosity=2, stdout=out)
    seconds = time.perf_counter() - started
    timings = out.getvalue().strip().splitlines()[-1].split()  # scoring X s, merging Y s

    figures = evaluate(truth)
    figures["threshold"] = DEFAULT_MERGE_ABOVE
    figures["left for review"] = DuplicateSuggestion.objects.filter(status="pending").count()
    figures["seconds"] = round(seconds, 1)
    figures["scoring s"], figures["merging s"] = timings[1], timings[4]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_size(args.child, args.seed)))
        return
    results = {}
    for size in args.sizes:
        url = BASE_URL.format(size=size)
        recreate_database(url)
        env = bench_env(url)
        manage(env, "migrate", "--noinput")
        child = subprocess.run(
            [PYTHON, __file__, "--child", str(size), "--seed", str(args.seed)],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "cdp_site.settings"},
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            sys.exit(child.stderr[-3000:])
        results[size] = json.loads(child.stdout.strip().splitlines()[-1])
        drop_database(url)
    columns = [
        "true pairs",
        "merged pairs",
        "precision",
        "recall",
        "F1",
        "left for review",
        "scoring s",
        "merging s",
    ]
    print(f"find_duplicates --merge-above {results[args.sizes[0]]['threshold']} on PostgreSQL")
    print(f"machine: {machine_description()}")
    print("| profiles | " + " | ".join(columns) + " | seconds |")
    print("|---" * (len(columns) + 2) + "|")
    for size, figures in results.items():
        cells = " | ".join(str(figures[c]) for c in columns)
        print(f"| {size} | {cells} | {figures['seconds']} |")
    if args.json:
        flat = {}
        for size, figures in results.items():
            for name in ("precision", "recall", "F1", "seconds"):
                flat[f"{name} at {size} profiles"] = figures[name]
        args.json.write_text(json.dumps(flat))


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    main()
