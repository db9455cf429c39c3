"""Predictive models on a small simulated store (benchmarks/store_sim.py)."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from benchmarks.store_sim import Config, load, simulate
from consent.models import Purpose
from consent.services.consent import record_consent
from customers.models import Customer
from insights.models import InsightPolicy, PredictiveModel
from insights.services import features
from insights.services.predictions import score_published, train_all, train_model
from segments.models import StoredTraitValue
from tests.insights.conftest import NOW


@pytest.fixture
def shop(source):
    sim = simulate(Config(profiles=600, history_days=400, seed=3), end=NOW)
    ids = load(sim, source_id=source.pk)
    return sim, np.array(ids)


def stored(trait: str) -> dict[int, float]:
    return dict(
        StoredTraitValue.objects.filter(trait__name=trait).values_list("customer_id", "number")
    )


def test_model_beats_the_rfm_baseline_on_the_simulated_future_and_is_published(shop):
    sim, ids = shop
    reports = {r.target: r for r in train_all(now=NOW)}

    purchase = PredictiveModel.objects.get(pk=reports["purchase_30d"].model_id)
    assert purchase.status == "published"
    assert purchase.auc >= purchase.baseline_auc + 0.03
    scores = stored("purchase_propensity_30d")
    assert len(scores) == len(ids)
    truth = sim.bought_30d.astype(int)
    assert roc_auc_score(truth, [scores[int(c)] for c in ids]) >= 0.75
    percentiles = stored("purchase_propensity_30d_percentile")
    assert set(percentiles) == set(scores)
    assert min(percentiles.values()) >= 0
    assert max(percentiles.values()) == 100
    lift = purchase.metrics["model"]["lift"]
    assert [row["decile"] for row in lift] == list(range(1, 11))
    assert lift[0]["lift"] >= 2.5
    assert len(purchase.metrics["baseline"]["calibration"]) == 10

    row = StoredTraitValue.objects.filter(trait__name="purchase_propensity_30d").first()
    assert row.explanation["model"] == purchase.pk
    assert len(row.explanation["top"]) == 3
    assert {"feature", "value", "effect"} == set(row.explanation["top"][0])

    # churn: buyers of the last 365 days only; revenue: everyone, never negative
    snapshot = features.snapshot(as_of=NOW, names=[])
    buyers = set(snapshot.index[snapshot["purchases_365d"] > 0])
    for target, trait, population in (
        ("churn_90d", "churn_risk", buyers),
        ("revenue_90d", "predicted_revenue_90d", {int(c) for c in ids}),
    ):
        model = PredictiveModel.objects.get(pk=reports[target].model_id)
        assert model.status == ("published" if reports[target].published else "rejected")
        if model.status == "published":
            values = stored(trait)
            assert set(values) == population
            assert min(values.values()) >= 0


def test_models_are_replaced_only_by_one_that_passes_the_gate(shop):
    first = train_model(target="purchase_30d", now=NOW)
    second = train_model(target="purchase_30d", now=NOW)
    assert PredictiveModel.objects.get(pk=first.model_id).status == "retired"
    assert PredictiveModel.objects.get(pk=second.model_id).status == "published"
    before = stored("purchase_propensity_30d")
    policy = InsightPolicy.current()
    policy.min_auc = 0.999
    policy.save()

    third = train_model(target="purchase_30d", now=NOW)

    assert not third.published
    rejected = PredictiveModel.objects.get(pk=third.model_id)
    assert rejected.status == "rejected"
    assert "below the floor" in rejected.reason
    assert PredictiveModel.objects.get(pk=second.model_id).status == "published"
    assert stored("purchase_propensity_30d") == before


def test_profiles_the_analytics_purpose_may_not_use_are_neither_trained_on_nor_scored(shop):
    _sim, ids = shop
    analytics = Purpose.objects.get(code="analytics")
    refused = Customer.objects.filter(pk__in=[int(c) for c in ids[:150]])
    for customer in refused:
        record_consent(customer=customer, purpose=analytics, state="denied", method="admin")
    report = train_model(target="purchase_30d", now=NOW)
    model = PredictiveModel.objects.get(pk=report.model_id)
    assert model.validation_rows <= len(ids) - 150
    assert not set(stored("purchase_propensity_30d")) & {c.pk for c in refused}


def test_not_enough_history_is_recorded_as_rejected(make_customer, buy):
    ann = make_customer()
    buy(ann, 1, 10)
    report = train_model(target="purchase_30d", now=NOW)
    assert not report.published
    assert PredictiveModel.objects.get(pk=report.model_id).reason.startswith("fewer than")
    assert score_published(target="purchase_30d", now=NOW) == 0


def test_fits_beyond_fit_rows_use_a_sample_stratified_by_the_outcome():
    from insights.services.predictions import fit_sample

    positive = np.zeros(10_000, dtype=int)
    positive[::50] = 1  # 2 % buyers
    keep = fit_sample(positive, rows=1_000)
    assert len(set(keep)) == len(keep) == 1_000
    assert positive[keep].sum() == 20  # exactly their share, not left to chance
    assert list(keep) == sorted(keep)
    assert list(fit_sample(positive[:500], rows=1_000)) == list(range(500))
