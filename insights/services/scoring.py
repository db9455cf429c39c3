"""Scoring plans: points per event or condition, with decay, published as a trait.

A rule of kind *event* earns ``points`` for every matching event of the
plan's window (name, plus property conditions written as in segment rules),
each worth ``points x (1 - decay/100) ^ age in days``; a rule of kind
*condition* earns ``points`` once while a segment rule holds for the
profile. The score is the sum, rounded to 2 decimals, stored as the plan's
trait with its breakdown (per rule: events counted and points). Profiles
that earn nothing have no value; profiles the analytics purpose may not use
are not scored.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from consent.selectors import allowed_q
from customers.models import Customer, Event
from insights import traits
from insights.models import ScoringPlan, ScoringRule
from insights.services.bulk import bulk_reads
from insights.services.frames import EpochMicros, read_frame
from insights.services.rfm import DAY_US, micros
from segments.compiler import compile_rule, json_q
from segments.models import ComputedTrait, StoredTrait
from segments.rules import InvalidRule, validate_rule
from segments.stored import declare_stored_trait, replace_stored_rows

PURPOSE = "analytics"


def plan_errors(plan: ScoringPlan) -> dict[str, str]:
    """Why the plan cannot be saved as it is (its trait name is taken)."""
    name = plan.trait_name
    taken = (
        name in traits.FIXED_TRAITS
        or ComputedTrait.objects.filter(name=name).exists()
        or StoredTrait.objects.filter(name=name).exclude(producer=traits.PRODUCER).exists()
        or ScoringPlan.objects.filter(trait_name=name).exclude(pk=plan.pk).exists()
    )
    return {"trait_name": "This computed trait name is taken."} if taken else {}


def rule_errors(rule: ScoringRule) -> dict[str, str]:
    """Why the rule cannot be saved as it is, by field."""
    try:
        if rule.kind == ScoringRule.Kind.EVENT:
            node = {"event": rule.event}
            if rule.where:
                node["where"] = rule.where
            validate_rule(node)
        else:
            validate_rule(rule.condition)
    except InvalidRule as error:
        field = "where" if rule.kind == ScoringRule.Kind.EVENT else "condition"
        return {field: "; ".join(f"{e.path}: {e.message}" for e in error.errors)}
    return {}


@transaction.atomic
def save_scoring_plan(*, plan: ScoringPlan) -> ScoringPlan:
    """Save a plan and declare its trait (so rules can use it at once)."""
    if errors := plan_errors(plan):
        raise ValidationError(errors)
    plan.full_clean()
    plan.save()
    declare_stored_trait(
        name=plan.trait_name,
        numeric=True,
        producer=traits.PRODUCER,
        description=f"Score of the plan {plan.name}",
    )
    return plan


@transaction.atomic
def save_scoring_rule(*, rule: ScoringRule) -> ScoringRule:
    if rule.kind == ScoringRule.Kind.CONDITION:
        rule.event, rule.where = "", []
    else:
        rule.condition = {}
    if errors := rule_errors(rule):
        raise ValidationError(errors)
    rule.full_clean()
    rule.save()
    return rule


def _allowed_ids():
    return Customer.objects.active().filter(allowed_q(PURPOSE)).values("pk")


def _event_points(rule: ScoringRule, plan: ScoringPlan, now: datetime) -> pd.DataFrame:
    """Events and decayed points of each profile that earned any, by id."""
    events = Event.objects.order_by().filter(
        name=rule.event,
        timestamp__lte=now,
        timestamp__gt=now - timedelta(days=plan.window_days),
        customer_id__in=_allowed_ids(),
    )
    for condition in rule.where:
        events = events.filter(
            json_q(
                "properties",
                condition["property"],
                condition["op"],
                condition.get("value"),
                condition.get("case_sensitive", False),
                now,
            )
        )
    frame = read_frame(events.annotate(at=EpochMicros("timestamp")).values("customer_id", "at"))
    if frame.empty:
        return pd.DataFrame({"events": [], "points": []}, index=pd.Index([], dtype=np.int64))
    age = (micros(now) - frame["at"].to_numpy(dtype=np.int64)) // DAY_US  # whole days
    frame["points"] = rule.points * (1 - plan.decay_percent_per_day / 100) ** age
    grouped = frame.groupby(frame["customer_id"].astype(np.int64))
    return pd.DataFrame({"events": grouped.size(), "points": grouped["points"].sum()})


def _condition_points(rule: ScoringRule, now: datetime) -> pd.DataFrame:
    ids = list(
        Customer.objects.active()
        .filter(allowed_q(PURPOSE), compile_rule(rule.condition, now=now))
        .values_list("pk", flat=True)
    )
    return pd.DataFrame({"events": 0, "points": float(rule.points)}, index=pd.Index(ids))


def _lines(rule: ScoringRule, earned: pd.DataFrame) -> list[str]:
    """Each profile's breakdown line for one rule, as JSON text."""
    head = '{"rule":' + json.dumps(str(rule.label)) + ',"points":'
    points = [repr(round(value, 2)) for value in earned["points"].tolist()]
    if rule.kind != ScoringRule.Kind.EVENT:
        return [f"{head}{p}}}" for p in points]
    counts = earned["events"].astype(int).tolist()
    return [f'{head}{p},"events":{n}}}' for p, n in zip(points, counts, strict=True)]


def compute_plan(*, plan: ScoringPlan, now: datetime | None = None) -> int:
    """Score every profile with the plan and replace its trait's values."""
    now = now or timezone.now()
    parts = []
    for order, rule in enumerate(plan.rules.order_by("pk")):
        with bulk_reads():
            if rule.kind == ScoringRule.Kind.EVENT:
                earned = _event_points(rule, plan, now)
            else:
                earned = _condition_points(rule, now)
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": earned.index.to_numpy(dtype=np.int64),
                    "order": order,
                    "points": earned["points"].to_numpy(dtype=float),
                    "line": _lines(rule, earned),
                }
            )
        )
    why = {"plan": plan.name, "decay_percent_per_day": plan.decay_percent_per_day}
    head = json.dumps(why, separators=(",", ":"))[:-1] + ',"breakdown":['
    rows: list[tuple[int, object, str]] = []
    if parts:
        earned = pd.concat(parts).sort_values(["customer_id", "order"], kind="stable")
        grouped = earned.groupby("customer_id", sort=True)
        totals, lines = grouped["points"].sum(), grouped["line"].agg(",".join)
        rows = [
            (cid, round(total, 2), f"{head}{line}]}}")
            for cid, total, line in zip(
                totals.index.tolist(), totals.tolist(), lines.tolist(), strict=True
            )
        ]
    return replace_stored_rows(name=plan.trait_name, rows=rows, computed_at=now)


def compute_all_plans(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    return {
        plan.trait_name: compute_plan(plan=plan, now=now)
        for plan in ScoringPlan.objects.filter(is_active=True).order_by("pk")
    }
