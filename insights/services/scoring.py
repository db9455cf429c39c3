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
from segments.compiler import compile_rule, json_q
from segments.models import ComputedTrait, StoredTrait
from segments.rules import InvalidRule, validate_rule
from segments.stored import StoredValue, declare_stored_trait, replace_stored_values

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
    rows = list(events.values_list("customer_id", "timestamp"))
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp"])
    if frame.empty:
        return pd.DataFrame(columns=["events", "points"])
    age = np.array([(now - t).total_seconds() / 86400 for t in frame["timestamp"]])
    frame["points"] = rule.points * (1 - plan.decay_percent_per_day / 100) ** np.floor(age)
    grouped = frame.groupby("customer_id")
    return pd.DataFrame({"events": grouped.size(), "points": grouped["points"].sum()})


def _condition_points(rule: ScoringRule, now: datetime) -> pd.DataFrame:
    ids = list(
        Customer.objects.active()
        .filter(allowed_q(PURPOSE), compile_rule(rule.condition, now=now))
        .values_list("pk", flat=True)
    )
    return pd.DataFrame({"events": 0, "points": float(rule.points)}, index=pd.Index(ids))


def compute_plan(*, plan: ScoringPlan, now: datetime | None = None) -> int:
    """Score every profile with the plan and replace its trait's values."""
    now = now or timezone.now()
    parts: dict[int, list[dict]] = {}
    totals: dict[int, float] = {}
    for rule in plan.rules.order_by("pk"):
        with bulk_reads():
            if rule.kind == ScoringRule.Kind.EVENT:
                earned = _event_points(rule, plan, now)
            else:
                earned = _condition_points(rule, now)
        for customer_id, row in earned.iterrows():
            cid = int(customer_id)
            line = {"rule": str(rule.label), "points": round(float(row["points"]), 2)}
            if rule.kind == ScoringRule.Kind.EVENT:
                line["events"] = int(row["events"])
            parts.setdefault(cid, []).append(line)
            totals[cid] = totals.get(cid, 0.0) + float(row["points"])
    why = {"plan": plan.name, "decay_percent_per_day": plan.decay_percent_per_day}
    return replace_stored_values(
        name=plan.trait_name,
        values=(
            StoredValue(cid, round(total, 2), {**why, "breakdown": parts[cid]})
            for cid, total in sorted(totals.items())
        ),
        computed_at=now,
    )


def compute_all_plans(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    return {
        plan.trait_name: compute_plan(plan=plan, now=now)
        for plan in ScoringPlan.objects.filter(is_active=True).order_by("pk")
    }
