from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from consent.models import Purpose
from consent.services.consent import record_consent
from customers.models import Event
from insights.models import InsightPolicy, RfmRun
from insights.services.rfm import compute_rfm, lifecycle_stage, refresh_customers, segment_name
from segments.selectors import profile_computed_traits, stored_trait_values
from tests.insights.conftest import NOW


def traits_of(customer) -> dict:
    return dict(profile_computed_traits(customer.pk))


def pandas_rfm(window_days=365) -> pd.DataFrame:
    """RFM computed independently with pandas from the raw events."""
    rows = Event.objects.filter(name="Order Completed").values_list(
        "customer_id", "timestamp", "properties"
    )
    frame = pd.DataFrame(list(rows), columns=["customer_id", "timestamp", "properties"])

    def revenue(props):
        for key in ("revenue", "total"):
            value = props.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
        return 0.0

    frame["revenue"] = frame["properties"].map(revenue)
    frame = frame[frame["timestamp"] >= NOW - timedelta(days=window_days)]
    per = frame.groupby("customer_id").agg(
        recency=("timestamp", "max"), frequency=("timestamp", "size"), monetary=("revenue", "sum")
    )
    per["monetary"] = per["monetary"].round(2)
    per = per.reset_index()
    for metric in ("recency", "frequency", "monetary"):
        ordered = per.sort_values([metric, "customer_id"]).index
        score = pd.Series(0, index=per.index)
        for quintile, chunk in enumerate(np.array_split(ordered, 5), start=1):
            score[chunk] = quintile
        per[f"{metric[0].upper()}"] = score
    return per.set_index("customer_id")


def test_rfm_quintiles_equal_an_independent_pandas_computation(random_shop):
    random_shop(seed=11, buyers=63)
    compute_rfm(now=NOW)
    expected = pandas_rfm()
    got = {}
    for cid in expected.index:
        values = dict(profile_computed_traits(int(cid)))
        got[cid] = (values["rfm_recency"], values["rfm_frequency"], values["rfm_monetary"])
    want = {cid: (row.R, row.F, row.M) for cid, row in expected.iterrows()}
    assert got == want
    assert len(want) > 40


def test_quintiles_have_equal_sizes_lowest_groups_one_larger(random_shop):
    random_shop(seed=3, buyers=62)
    report = compute_rfm(now=NOW)
    counts = pd.Series(
        [traits_of_id(cid)["rfm_frequency"] for cid in pandas_rfm().index]
    ).value_counts()
    n = report.buyers
    assert sorted(counts.to_dict().items()) == [
        (q, n // 5 + (1 if q <= n % 5 else 0)) for q in range(1, 6)
    ]


def traits_of_id(cid) -> dict:
    return dict(profile_computed_traits(int(cid)))


@pytest.mark.parametrize(
    ("r", "f", "name"),
    [
        (5, 5, "Champions"),
        (5, 4, "Champions"),
        (4, 4, "Loyal"),
        (3, 5, "Loyal"),
        (5, 2, "Potential loyalists"),
        (4, 3, "Potential loyalists"),
        (5, 1, "New"),
        (4, 1, "Promising"),
        (3, 3, "Need attention"),
        (3, 1, "About to sleep"),
        (3, 2, "About to sleep"),
        (2, 3, "At risk"),
        (1, 4, "At risk"),
        (1, 5, "Can't lose them"),
        (2, 5, "Can't lose them"),
        (1, 1, "Hibernating"),
        (2, 2, "Hibernating"),
    ],
)
def test_segment_name_from_r_and_f(r, f, name):
    assert segment_name(r, f)[0] == name


def test_every_r_f_pair_has_exactly_one_segment():
    for r in range(1, 6):
        for f in range(1, 6):
            assert segment_name(r, f)[0]


@pytest.mark.parametrize(
    ("first", "last", "stage"),
    [
        (10, 10, "new"),
        (30, 2, "new"),
        (31, 31, "active"),
        (400, 90, "active"),
        (400, 91, "at risk"),
        (400, 180, "at risk"),
        (400, 181, "lapsed"),
        (400, 365, "lapsed"),
        (400, 366, "churned"),
    ],
)
def test_lifecycle_stage_thresholds(first, last, stage):
    policy = InsightPolicy(new_days=30, active_days=90, at_risk_days=180, lapsed_days=365)
    assert lifecycle_stage(days_since_first=first, days_since_last=last, policy=policy)[0] == stage


def test_lifecycle_thresholds_are_the_stores_own(make_customer, buy):
    policy = InsightPolicy.current()
    policy.new_days, policy.active_days, policy.at_risk_days = 10, 20, 60
    policy.save()
    ann = make_customer()
    buy(ann, 300, 10)
    buy(ann, 45, 10)
    compute_rfm(now=NOW)
    assert traits_of(ann)["lifecycle_stage"] == "at risk"


def test_profile_explains_rfm_and_stage(make_customer, buy):
    ann, bob = make_customer(), make_customer()
    buy(ann, 2, 50)
    buy(ann, 5, 30)
    buy(bob, 300, 10)
    buy(bob, 800, 10)
    for days_ago in (20, 30, 40):  # five buyers: one per quintile
        buy(make_customer(), days_ago, 20)
    compute_rfm(now=NOW)
    rows = {r.trait.name: r for r in stored_trait_values(ann.pk)}
    assert rows["rfm_segment"].value == "Champions"
    assert rows["rfm_segment"].explanation["rule"] == "R 5 and F 4-5 → Champions"
    assert rows["rfm_segment"].explanation["revenue"] == 80.0
    assert rows["rfm_recency"].explanation["days_since"] == 2
    assert rows["lifecycle_stage"].value == "new"
    bob_rows = {r.trait.name: r for r in stored_trait_values(bob.pk)}
    assert bob_rows["lifecycle_stage"].value == "lapsed"
    assert bob_rows["lifecycle_stage"].explanation["rule"] == "last purchase within 365 days"
    assert bob_rows["lifecycle_stage"].explanation["days_since_first"] == 800


def test_revenue_is_revenue_else_total_and_texts_count_zero(make_customer, buy):
    ann = make_customer()
    buy(ann, 1, 10)  # revenue 10
    buy(ann, 2, None, total=7)  # total 7
    buy(ann, 3, "12.50", total=5)  # text revenue: total 5
    buy(ann, 4, None, total="9")  # nothing numeric
    compute_rfm(now=NOW)
    explanation = {r.trait.name: r for r in stored_trait_values(ann.pk)}["rfm_monetary"]
    assert explanation.explanation["revenue"] == 22.0


def test_purchase_event_is_the_setting(make_customer, buy, settings):
    settings.TRIBUTARY_PURCHASE_EVENT = "Checkout Paid"
    ann, bob = make_customer(), make_customer()
    buy(ann, 1, 10, name="Checkout Paid")
    buy(bob, 1, 10)
    compute_rfm(now=NOW)
    assert "rfm_segment" in traits_of(ann)
    assert "rfm_segment" not in traits_of(bob)


def test_non_buyers_and_old_buyers_have_no_rfm(make_customer, buy):
    ann, bob = make_customer(), make_customer()
    buy(ann, 500, 10)
    compute_rfm(now=NOW)
    assert traits_of(ann) == {"lifecycle_stage": "churned"}
    assert traits_of(bob) == {}


def test_profiles_the_analytics_purpose_may_not_use_are_not_computed(make_customer, buy):
    ann, bob = make_customer(), make_customer()
    buy(ann, 1, 10)
    buy(bob, 1, 10)
    compute_rfm(now=NOW)
    record_consent(
        customer=ann,
        purpose=Purpose.objects.get(code="analytics"),
        state="withdrawn",
        method="admin",
    )
    compute_rfm(now=NOW)
    assert traits_of(ann) == {}
    assert set(traits_of(bob)) == {
        "rfm_recency",
        "rfm_frequency",
        "rfm_monetary",
        "rfm_segment",
        "lifecycle_stage",
    }


def test_purchase_places_one_profile_against_the_last_boundaries(random_shop, make_customer, buy):
    people = random_shop(seed=5, buyers=50)
    compute_rfm(now=NOW - timedelta(days=1))
    run = RfmRun.objects.latest()
    before = {p.pk: traits_of(p) for p in people}
    newcomer = make_customer()
    buy(newcomer, 0.1, 5000)
    assert refresh_customers(customer_ids=[newcomer.pk], now=NOW) == 1
    values = traits_of(newcomer)
    assert (values["rfm_recency"], values["rfm_frequency"], values["rfm_monetary"]) == (5, 1, 5)
    assert values["rfm_segment"] == "New"
    assert values["lifecycle_stage"] == "new"
    assert {p.pk: traits_of(p) for p in people} == before
    assert RfmRun.objects.latest() == run


def test_refresh_without_a_daily_run_sets_the_stage_only(make_customer, buy):
    ann = make_customer()
    buy(ann, 1, 10)
    refresh_customers(customer_ids=[ann.pk], now=NOW)
    assert traits_of(ann) == {"lifecycle_stage": "new"}


def test_explanations_show_exact_purchase_times_and_the_quintile_ends(make_customer, source):
    ann = make_customer()
    moments = [
        NOW - timedelta(days=400, microseconds=7),  # outside the window: lifecycle only
        NOW - timedelta(days=2, seconds=30, microseconds=123456),
        NOW - timedelta(days=3),
    ]
    for index, moment in enumerate(moments):
        Event.objects.create(
            customer=ann,
            source=source,
            type="track",
            name="Order Completed",
            properties={"revenue": 19.99},
            timestamp=moment,
            message_id=f"exact-{index}",
        )
    compute_rfm(now=NOW)
    rows = {r.trait.name: r.explanation for r in stored_trait_values(ann.pk)}
    last = "2026-11-26T11:59:29.876544+00:00"
    assert rows["rfm_recency"] == {
        "last_purchase_at": last,
        "days_since": 2,
        "rule": "quintile 1 of 1 buyers of the last 365 days (5 = best)",
        "quintile_ends": [last] * 4,
    }
    assert rows["rfm_monetary"]["revenue"] == 39.98
    assert rows["rfm_frequency"]["purchases"] == 2
    assert rows["lifecycle_stage"] == {
        "first_purchase_at": "2025-10-24T11:59:59.999993+00:00",
        "last_purchase_at": last,
        "days_since_first": 400,
        "days_since_last": 2,
        "rule": "last purchase within 90 days",
        "thresholds": {"new": 30, "active": 90, "at risk": 180, "lapsed": 365},
    }
    assert RfmRun.objects.latest().boundaries["recency"] == [last] * 4
