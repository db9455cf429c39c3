"""The insights admin by role, the model report, and the customer page partial."""

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from insights.models import InsightPolicy, PredictiveModel, ScoringPlan
from insights.services.predictions import evaluate
from insights.services.rfm import compute_rfm
from segments.models import StoredTrait
from tests.insights.conftest import NOW

TRAIN = "admin:insights_predictivemodel_train"


@pytest.fixture
def report_model(db):
    rng = np.random.default_rng(1)
    y = (rng.random(500) < 0.2).astype(int)
    model_scores = np.clip(y * 0.5 + rng.random(500) * 0.6, 0, 1)
    baseline_scores = np.clip(y * 0.1 + rng.random(500), 0, 1)
    metrics = {
        "model": evaluate("purchase_30d", y, model_scores),
        "baseline": evaluate("purchase_30d", y, baseline_scores),
    }
    return PredictiveModel.objects.create(
        target="purchase_30d",
        status="published",
        reason="beats the RFM-only baseline and the floor",
        trained_at=NOW,
        train_cutoff=NOW,
        validation_cutoff=NOW,
        train_rows=500,
        validation_rows=500,
        validation_positives=int(y.sum()),
        auc=metrics["model"]["auc"],
        baseline_auc=metrics["baseline"]["auc"],
        metrics=metrics,
    )


@pytest.mark.parametrize("role", ["viewer", "marketer", "steward"])
def test_every_role_reads_the_model_list_with_auc_baseline_and_lift(
    role_client, role, report_model
):
    response = role_client(role).get(reverse("admin:insights_predictivemodel_changelist"))
    body = response.content.decode()
    assert response.status_code == 200
    assert f"{report_model.auc:.3f}" in body
    assert f"{report_model.baseline_auc:.3f}" in body
    assert f"{report_model.metrics['model']['lift'][0]['lift']:.2f}" in body
    assert ('id="ins-train"' in body) is (role == "steward")


def test_model_page_shows_lift_by_decile_and_calibration_next_to_the_baseline(
    role_client, report_model
):
    url = reverse("admin:insights_predictivemodel_change", args=[report_model.pk])
    body = role_client("viewer").get(url).content.decode()
    lift = body.split('id="ins-lift"')[1].split("</table>")[0]
    assert lift.count("<tr>") == 11  # header and ten deciles
    calibration = body.split('id="ins-calibration"')[1].split("</table>")[0]
    assert calibration.count("<tr>") == 11
    assert "RFM-only baseline" in body


@pytest.mark.parametrize("role", ["viewer", "marketer"])
def test_only_stewards_may_train(role_client, role):
    response = role_client(role).post(reverse(TRAIN))
    assert response.status_code == 403
    assert not PredictiveModel.objects.exists()


def test_steward_trains_and_a_model_without_data_is_rejected(role_client):
    response = role_client("steward").post(reverse(TRAIN))
    assert response.status_code == 302
    assert set(PredictiveModel.objects.values_list("target", "status")) == {
        ("purchase_30d", "rejected"),
        ("churn_90d", "rejected"),
        ("revenue_90d", "rejected"),
    }


def test_training_needs_a_post(role_client):
    assert role_client("steward").get(reverse(TRAIN)).status_code == 405


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("marketer", 403), ("steward", 302)])
def test_policy_is_changed_by_stewards_only(role_client, role, status):
    policy = InsightPolicy.current()
    url = reverse("admin:insights_insightpolicy_change", args=[policy.pk])
    data = {
        "rfm_window_days": 180,
        "new_days": 14,
        "active_days": 60,
        "at_risk_days": 120,
        "lapsed_days": 300,
        "min_auc": 0.7,
    }
    assert role_client(role).post(url, data).status_code == status
    policy.refresh_from_db()
    assert (policy.rfm_window_days == 180) is (role == "steward")


def test_policy_with_thresholds_out_of_order_is_refused_in_the_form(role_client):
    policy = InsightPolicy.current()
    url = reverse("admin:insights_insightpolicy_change", args=[policy.pk])
    data = {
        "rfm_window_days": 365,
        "new_days": 30,
        "active_days": 200,
        "at_risk_days": 100,
        "lapsed_days": 300,
        "min_auc": 0.7,
    }
    response = role_client("steward").post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    policy.refresh_from_db()
    assert policy.active_days == 90


def _plan_post(rule: dict) -> dict:
    data = {
        "name": "Lead score",
        "trait_name": "lead_score",
        "description": "",
        "decay_percent_per_day": "5",
        "window_days": "365",
        "is_active": "on",
        "rules-TOTAL_FORMS": "1",
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
    }
    data.update({f"rules-0-{key}": value for key, value in rule.items()})
    return data


def test_marketer_creates_a_scoring_plan_and_its_trait_exists_at_once(role_client):
    rule = {
        "label": "Pricing page",
        "kind": "event",
        "event": "Page Viewed",
        "where": '[{"property": "path", "op": "eq", "value": "/pricing"}]',
        "condition": "{}",
        "points": "10",
    }
    response = role_client("marketer").post(
        reverse("admin:insights_scoringplan_add"), _plan_post(rule)
    )
    assert response.status_code == 302
    plan = ScoringPlan.objects.get(trait_name="lead_score")
    assert list(plan.rules.values_list("label", "points")) == [("Pricing page", 10)]
    assert StoredTrait.objects.get(name="lead_score").numeric


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"kind": "event", "event": "Page Viewed", "where": '[{"property": "p"}]'}, "where"),
        ({"kind": "event", "event": "", "where": "[]"}, "event"),
        ({"kind": "condition", "event": "", "condition": '{"trait": 1}'}, "condition"),
        ({"kind": "event", "event": "X", "where": "not json"}, "where"),
    ],
)
def test_invalid_scoring_rules_are_shown_in_the_form_not_saved(role_client, rule, field):
    rule = {"label": "Bad", "points": "3", "condition": "{}", "where": "[]", **rule}
    response = role_client("marketer").post(
        reverse("admin:insights_scoringplan_add"), _plan_post(rule)
    )
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.errors
    assert field in errors[0]
    assert not ScoringPlan.objects.exists()


def test_viewer_cannot_add_scoring_plans(role_client):
    response = role_client("viewer").post(reverse("admin:insights_scoringplan_add"), {})
    assert response.status_code == 403


def test_customer_page_shows_stage_rfm_and_why(admin_client, make_customer, buy):
    ann = make_customer(first_name="Ann")
    buy(ann, 3, 40)
    buy(ann, 200, 10)
    compute_rfm(now=timezone.now())
    body = admin_client.get(reverse("admin:customers_customer_change", args=[ann.pk])).content
    section = body.decode().split('id="bo-insights"')[1].split("</section>")[0]
    assert "<b>active</b>" in section
    assert "last purchase within 90 days" in section
    assert "<b>Hibernating</b> (R1 F1 M1)" in section  # the only buyer: quintile 1
    assert "R 1-2 and F 1-2 → Hibernating" in section
    assert "2 purchases, revenue 50.0" in section
    assert "quintile 1 of 1 buyers" in section


def test_customer_page_without_insights_says_so(admin_client, make_customer):
    ann = make_customer(first_name="Ann")
    body = admin_client.get(reverse("admin:customers_customer_change", args=[ann.pk])).content
    assert b"No insights yet" in body
