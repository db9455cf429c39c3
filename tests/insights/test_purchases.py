"""A purchase arriving through the pipeline places its buyer at once (via the outbox)."""

from datetime import timedelta

from insights.services.purchases import follow_purchases
from insights.services.rfm import compute_rfm
from segments.selectors import profile_computed_traits
from sources.contracts import NormalizedMessage
from sources.pipeline import process_message
from tests.insights.conftest import NOW


def track(source, n, user_id, event, **properties):
    return process_message(
        NormalizedMessage(
            source_id=source.pk,
            message_id=f"p-{n}",
            type="track",
            timestamp=NOW - timedelta(minutes=5),
            received_at=NOW,
            user_id=user_id,
            event=event,
            properties=properties,
        )
    )


def test_purchase_through_the_pipeline_sets_rfm_and_stage_on_the_next_round(source, random_shop):
    random_shop(seed=9, buyers=40)
    compute_rfm(now=NOW - timedelta(hours=1))
    assert follow_purchases(now=NOW).entries == 0  # first round: starts at the end

    track(source, 1, "u1", "Product Viewed")
    bought = track(source, 2, "u2", "Order Completed", revenue=5000)
    report = follow_purchases(now=NOW)

    assert (report.entries, report.purchases, report.profiles) >= (2, 1, 1)
    values = dict(profile_computed_traits(bought.customer.pk))
    assert (values["rfm_recency"], values["rfm_monetary"], values["lifecycle_stage"]) == (
        5,
        5,
        "new",
    )
    assert follow_purchases(now=NOW).entries == 0  # the cursor moved on


def test_other_events_place_no_one(source, random_shop):
    random_shop(seed=9, buyers=10)
    compute_rfm(now=NOW - timedelta(hours=1))
    follow_purchases(now=NOW)
    viewer = track(source, 3, "u3", "Product Viewed")
    report = follow_purchases(now=NOW)
    assert report.entries >= 1
    assert (report.purchases, report.profiles) == (0, 0)
    assert dict(profile_computed_traits(viewer.customer.pk)) == {}
