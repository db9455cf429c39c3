from datetime import timedelta

from core.models import OutboxEntry
from segments.models import SegmentMembership
from segments.services import save_segment
from sources.contracts import NormalizedMessage
from sources.pipeline import process_message
from tests.segments.conftest import NOW


def message(source, kind, n, **fields) -> NormalizedMessage:
    return NormalizedMessage(
        source_id=source.pk,
        message_id=f"msg-{n}",
        type=kind,
        timestamp=NOW - timedelta(minutes=10 - n),
        received_at=NOW,
        **fields,
    )


def members(segment) -> set[int]:
    return set(
        SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).values_list(
            "customer_id", flat=True
        )
    )


def test_identify_with_new_trait_enters_segment_immediately(source):
    pros = save_segment(name="Pro plan", rule={"trait": "plan", "op": "eq", "value": "pro"})

    result = process_message(message(source, "identify", 1, user_id="u1", traits={"plan": "Pro"}))

    assert members(pros) == {result.customer.pk}
    entered = OutboxEntry.objects.get(topic="segment.entered")
    assert entered.payload["segment_id"] == pros.pk


def test_identify_changing_a_trait_exits_segment_immediately(source):
    pros = save_segment(name="Pro plan", rule={"trait": "plan", "op": "eq", "value": "pro"})
    process_message(message(source, "identify", 1, user_id="u1", traits={"plan": "pro"}))

    result = process_message(message(source, "identify", 2, user_id="u1", traits={"plan": "free"}))

    assert members(pros) == set()
    exited = OutboxEntry.objects.get(topic="segment.exited")
    assert exited.customer_id == result.customer.pk


def test_third_order_enters_count_segment_on_the_third_event(source):
    loyal = save_segment(
        name="Loyal",
        rule={"event": "Order Completed", "within_days": 30, "count": {"at_least": 3}},
    )
    for n in (1, 2):
        process_message(message(source, "track", n, user_id="u1", event="Order Completed"))
    assert members(loyal) == set()

    result = process_message(message(source, "track", 3, user_id="u1", event="Order Completed"))

    assert members(loyal) == {result.customer.pk}


def test_new_identifier_enters_has_identifier_segment(source):
    reachable = save_segment(name="Has email", rule={"has_identifier": "email"})
    process_message(message(source, "track", 1, anonymous_id="a-1", event="Page Viewed"))
    assert members(reachable) == set()

    result = process_message(
        message(source, "identify", 2, anonymous_id="a-1", traits={"email": "Ann@Example.com"})
    )

    assert members(reachable) == {result.customer.pk}
