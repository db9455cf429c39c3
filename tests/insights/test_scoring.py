import pytest
from django.core.exceptions import ValidationError

from insights.models import ScoringPlan, ScoringRule
from insights.services.scoring import compute_plan, save_scoring_plan, save_scoring_rule
from segments.models import ComputedTrait
from segments.selectors import stored_trait_values
from segments.services import recompute_segment, save_segment
from tests.insights.conftest import NOW


@pytest.fixture
def plan(db):
    plan = save_scoring_plan(
        plan=ScoringPlan(name="Lead score", trait_name="lead_score", decay_percent_per_day=10)
    )
    save_scoring_rule(
        rule=ScoringRule(
            plan=plan,
            label="Pricing page view",
            event="Page Viewed",
            where=[{"property": "path", "op": "eq", "value": "/pricing"}],
            points=10,
        )
    )
    save_scoring_rule(
        rule=ScoringRule(plan=plan, label="Demo request", event="Demo Requested", points=30)
    )
    save_scoring_rule(
        rule=ScoringRule(
            plan=plan,
            label="Enterprise plan",
            kind="condition",
            condition={"trait": "plan", "op": "eq", "value": "enterprise"},
            points=5,
        )
    )
    return plan


def score_of(customer):
    rows = stored_trait_values(customer.pk, names=["lead_score"])
    return (rows[0].value, rows[0].explanation["breakdown"]) if rows else None


def test_points_decay_per_day_and_the_breakdown_is_kept(plan, make_customer, buy):
    ann = make_customer(traits={"plan": "enterprise"})
    buy(ann, 0.5, name="Page Viewed", path="/pricing")  # 10
    buy(ann, 2.5, name="Page Viewed", path="/pricing")  # 10 x 0.9^2 = 8.1
    buy(ann, 1.5, name="Page Viewed", path="/blog")  # no points
    buy(ann, 1.2, name="Demo Requested")  # 30 x 0.9 = 27
    compute_plan(plan=plan, now=NOW)
    value, breakdown = score_of(ann)
    assert value == 50.1
    assert breakdown == [
        {"rule": "Pricing page view", "points": 18.1, "events": 2},
        {"rule": "Demo request", "points": 27.0, "events": 1},
        {"rule": "Enterprise plan", "points": 5.0},
    ]


def test_events_outside_the_window_earn_nothing_and_nobody_gets_zero(plan, make_customer, buy):
    plan.window_days = 30
    save_scoring_plan(plan=plan)
    ann, bob = make_customer(), make_customer()
    buy(ann, 40, name="Demo Requested")
    buy(bob, 3, name="Demo Requested")
    compute_plan(plan=plan, now=NOW)
    assert score_of(ann) is None
    assert score_of(bob)[0] == round(30 * 0.9**3, 2)


def test_the_score_is_a_computed_trait_usable_in_segments(plan, make_customer, buy):
    ann, bob = make_customer(), make_customer()
    buy(ann, 0.2, name="Demo Requested")
    compute_plan(plan=plan, now=NOW)
    hot = save_segment(name="Hot", rule={"computed_trait": "lead_score", "op": "gte", "value": 20})
    assert recompute_segment(segment_id=hot.pk).size == 1
    assert hot.memberships.get().customer_id == ann.pk
    assert bob.pk not in hot.memberships.values_list("customer_id", flat=True)


def test_each_profile_gets_its_own_breakdown_in_rule_order(plan, make_customer, buy):
    ann, bob, cem = make_customer(), make_customer(traits={"plan": "enterprise"}), make_customer()
    buy(ann, 0.1, name="Demo Requested")  # 30
    buy(ann, 0.2, name="Page Viewed", path="/pricing")  # 10
    buy(bob, 1.1, name="Demo Requested")  # 27
    buy(bob, 1.2, name="Demo Requested")  # 27
    buy(cem, 3.5, name="Page Viewed", path="/pricing")  # 10 x 0.9^3 = 7.29
    assert compute_plan(plan=plan, now=NOW) == 3
    assert score_of(ann) == (
        40.0,
        [
            {"rule": "Pricing page view", "points": 10.0, "events": 1},
            {"rule": "Demo request", "points": 30.0, "events": 1},
        ],
    )
    assert score_of(bob) == (
        59.0,
        [
            {"rule": "Demo request", "points": 54.0, "events": 2},
            {"rule": "Enterprise plan", "points": 5.0},
        ],
    )
    assert score_of(cem) == (7.29, [{"rule": "Pricing page view", "points": 7.29, "events": 1}])


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"event": "Page Viewed", "where": [{"property": "path", "op": "nope"}]}, "where"),
        ({"kind": "condition", "condition": {"trait": "plan"}}, "condition"),
        (
            {"kind": "condition", "condition": {"computed_trait": "ghost", "op": "is_set"}},
            "condition",
        ),
    ],
)
def test_invalid_rules_are_refused_by_field(plan, fields, error_field):
    with pytest.raises(ValidationError) as error:
        save_scoring_rule(rule=ScoringRule(plan=plan, label="Bad", points=1, **fields))
    assert error_field in error.value.message_dict


def test_trait_names_cannot_be_taken_twice(plan):
    ComputedTrait.objects.create(name="orders", kind="count", event="Order Completed")
    for name in ("orders", "rfm_segment"):
        with pytest.raises(ValidationError):
            save_scoring_plan(plan=ScoringPlan(name=f"Plan {name}", trait_name=name))
