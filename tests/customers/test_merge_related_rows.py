"""Merging reaches rows of other apps generically (customers imports none of them)."""

from datetime import UTC, datetime

import pytest

from consent.models import ConsentRecord, ConsentState
from consent.services.consent import record_consent
from customers.models import Merge
from customers.services.merging import merge_customers, unmerge
from segments.models import Segment, SegmentMembership

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.fixture
def pair(resolve):
    return resolve(("user_id", "u-1")).customer, resolve(("anonymous_id", "d-1")).customer


def test_consent_records_move_and_a_clashing_current_state_stays(pair):
    ann, dup = pair
    record_consent(
        customer=ann, purpose="email_marketing", state="granted", method="api", occurred_at=JAN
    )
    record_consent(
        customer=dup, purpose="email_marketing", state="denied", method="api", occurred_at=FEB
    )
    dup_state = ConsentState.objects.get(customer=dup)
    [merge] = merge_customers(survivor=ann, absorbed=[dup], reason=Merge.Reason.MANUAL)
    assert ConsentRecord.objects.filter(customer=ann).count() == 2
    assert ConsentState.objects.get(pk=dup_state.pk).customer_id == dup.pk
    assert merge.kept == {"consent.ConsentState.customer": [dup_state.pk]}


def test_segment_memberships_move_except_a_second_active_one_in_the_same_segment(pair):
    ann, dup = pair
    vip, new = Segment.objects.create(name="VIP"), Segment.objects.create(name="New")
    SegmentMembership.objects.create(segment=vip, customer=ann, entered_at=JAN)
    clash = SegmentMembership.objects.create(segment=vip, customer=dup, entered_at=JAN)
    past = SegmentMembership.objects.create(
        segment=vip, customer=dup, entered_at=JAN, exited_at=FEB
    )
    other = SegmentMembership.objects.create(segment=new, customer=dup, entered_at=FEB)
    [merge] = merge_customers(survivor=ann, absorbed=[dup], reason=Merge.Reason.MANUAL)
    assert sorted(merge.moved["segments.SegmentMembership.customer"]) == sorted([past.pk, other.pk])
    assert merge.kept["segments.SegmentMembership.customer"] == [clash.pk]
    unmerge(merge=merge)
    assert set(SegmentMembership.objects.filter(customer=dup).values_list("pk", flat=True)) == {
        clash.pk,
        past.pk,
        other.pk,
    }
