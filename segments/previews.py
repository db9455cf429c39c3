"""The builder's preview: how many profiles a rule matches, why, and who.

Counted exactly on small profile tables. On a big one (PostgreSQL, beyond
``core.db.sampling.EXACT_UP_TO`` rows) every answer comes from one fixed
sample of profiles and says so: the rule's conditions are evaluated for the
sampled profiles only (their events and identities read by index, id by id),
in one query, and the counts are scaled up. Editing a rule is then answered
in a fraction of a second, however many events there are; the saved
segment's size is always counted exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db.models import BooleanField, Count, ExpressionWrapper
from django.utils import timezone

from core.db.sampling import RowSample, row_sample
from customers.models import Customer
from segments.compiler import compile_rule
from segments.rules import InvalidRule, validate_rule

# Conditions of a group counted one by one: the exact count groups profiles
# by which of them they match (at most 2**MAX_STEPS rows).
MAX_STEPS = 12
# With no sampled profile matching, the count is below this many sampled
# profiles' worth with 95 % confidence (the "rule of three").
_NONE_SEEN = 3


def preview(*, rule: object, segment_id: int | None = None, sample: int = 10) -> dict:
    """Count and a sample of the profiles a (possibly unsaved) rule matches,
    with the counts of each condition of its top group (``steps``)."""
    try:
        validate_rule(rule, segment_id=segment_id)
    except InvalidRule as error:
        return {"count": None, "sample": [], "errors": [e.as_dict() for e in error.errors]}
    now = timezone.now()
    sampled = row_sample(Customer)
    if sampled is not None:
        return _estimated(rule, now=now, sampled=sampled, sample=sample)
    matching = Customer.objects.active().filter(compile_rule(rule, now=now))
    rows = matching.order_by("-last_seen").only("pk", "first_name", "last_name", "email", "phone")
    steps = condition_counts(rule, now=now)
    # the last running count is the rule's own when the steps cover every
    # condition: one scan of the profiles fewer
    count = steps[-1]["running"] if _covered(rule, steps) else matching.count()
    return {
        "count": count,
        "sample": _people(rows[:sample]),
        "steps": steps,
        "estimated": False,
        "errors": [],
    }


def condition_counts(rule: dict, *, now: datetime) -> list[dict]:
    """Why a (validated) rule matches as many profiles as it does: for each
    condition of its top group, how many active profiles it matches alone
    and how many are left after it (``all``: this one and every one before;
    ``any``: this one or any before). The last ``running`` is the rule's count.

    A rule that is a single condition has no steps. One query: each
    condition is a yes/no column computed once per profile, grouped by the
    combination (a few rows), and the counts are added up here.
    """
    mode, children = _top_group(rule)
    if mode is None:
        return []
    columns = _columns(children, now=now)
    combos = (
        Customer.objects.active()
        .annotate(**columns)
        .values(*columns)
        .annotate(n=Count("pk"))
        .order_by()
    )
    counted = ((tuple(row[name] for name in columns), row["n"]) for row in combos)
    return _steps(mode, len(children), counted)


def _estimated(rule: dict, *, now: datetime, sampled: RowSample, sample: int) -> dict:
    """The preview from the sampled profiles: one row per sampled profile with
    a yes/no per condition, added up here."""
    scope = sampled.ids()
    mode, children = _top_group(rule)
    columns = _columns(children, now=now, scope=scope)
    covered = mode is not None and len(children) == len(rule[mode])
    if not covered:
        columns["whole"] = _column(rule, now=now, scope=scope)
    rows = list(
        Customer.objects.active()
        .filter(pk__in=scope)
        .annotate(**columns)
        .order_by()
        .values_list("pk", "last_seen", *columns)
    )
    width = len(children)
    steps = []
    if mode is not None:
        counted = Counter(tuple(row[2 : 2 + width]) for row in rows).items()
        steps = _steps(mode, width, counted)
    matched = [row for row in rows if (_combined(mode, row[2:]) if covered else row[-1])]
    # the most recently seen first, as in the exact preview
    matched.sort(key=lambda row: (row[1] is not None, row[1] or 0, row[0]), reverse=True)
    shown = {row[0] for row in matched[:sample]}
    people = Customer.objects.filter(pk__in=shown).order_by("-last_seen", "-pk")
    for step in steps:
        step.update(alone=sampled.scale(step["alone"]), running=sampled.scale(step["running"]))
    return {
        "count": sampled.scale(len(matched)),
        "margin": sampled.margin(row[0] for row in matched),
        "sample": _people(people.only("pk", "first_name", "last_name", "email", "phone")),
        "steps": steps,
        "estimated": True,
        "sampled_profiles": sampled.rows,
        "fewer_than": sampled.scale(_NONE_SEEN) if not matched else None,
        "errors": [],
    }


def _top_group(rule: dict) -> tuple[str | None, list]:
    mode = "all" if "all" in rule else "any" if "any" in rule else None
    return mode, (rule[mode][:MAX_STEPS] if mode else [])


def _columns(children: list, *, now: datetime, scope=None) -> dict:
    return {
        f"c{index}": _column(child, now=now, scope=scope) for index, child in enumerate(children)
    }


def _column(rule: dict, *, now: datetime, scope=None) -> ExpressionWrapper:
    return ExpressionWrapper(compile_rule(rule, now=now, scope=scope), output_field=BooleanField())


def _combined(mode: str | None, matched: Sequence[bool]) -> bool:
    return all(matched) if mode == "all" else any(matched)


def _steps(mode: str, width: int, combos: Iterable[tuple[Sequence[bool], int]]) -> list[dict]:
    """Alone and running counts of ``width`` conditions from (which of them a
    profile matched, how many profiles) pairs."""
    alone: Counter = Counter()
    running: Counter = Counter()
    for matched, n in combos:
        so_far = False
        for index, hit in enumerate(map(bool, matched)):
            if hit:
                alone[index] += n
            so_far = hit if index == 0 else _combined(mode, (so_far, hit))
            if so_far:
                running[index] += n
    return [
        {"path": f"$.{mode}[{index}]", "alone": alone[index], "running": running[index]}
        for index in range(width)
    ]


def _covered(rule: dict, steps: list[dict]) -> bool:
    return bool(steps) and len(steps) == len(next(iter(rule.values())))


def _people(customers: Iterable[Customer]) -> list[dict]:
    return [
        {"id": c.pk, "name": str(c), "email": c.email, "url": c.get_absolute_url()}
        for c in customers
    ]
