from datetime import timedelta

import pytest
from django.core.management import call_command

from core import outbox as core_outbox
from core.models import OutboxEntry
from core.outbox import entry_customer_ids
from customers.models import Customer, ProfileStamp
from customers.pointers import document_versions
from segments.models import Segment, SegmentMembership, SegmentSize
from segments.services import (
    add_to_static_segment,
    recompute_segment,
    reevaluate_customers,
    remove_from_static_segment,
    save_segment,
)
from tests.segments.conftest import NOW

GERMANS = {"field": "country", "op": "eq", "value": "DE"}


def active_ids(segment) -> set[int]:
    return set(
        SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).values_list(
            "customer_id", flat=True
        )
    )


def outbox(topic: str) -> list[dict]:
    return list(
        OutboxEntry.objects.filter(topic=topic).order_by("pk").values_list("payload", flat=True)
    )


def entered_ids() -> list[int]:
    """The profiles of every ``segment.entered`` entry, chunks flattened, in outbox order."""
    entries = OutboxEntry.objects.filter(topic="segment.entered").order_by("pk")
    return [pk for entry in entries for pk in entry_customer_ids(entry)]


def test_recompute_enters_matching_profiles_with_outbox_and_size(make_customer):
    ann = make_customer(country="DE")
    make_customer(country="FR")
    make_customer(country="DE", merged_into=ann)
    segment = save_segment(name="Germans", rule=GERMANS)

    result = recompute_segment(segment_id=segment.pk, now=NOW)

    assert (result.entered, result.exited, result.size) == (1, 0, 1)
    membership = SegmentMembership.objects.get(segment=segment)
    assert (membership.customer_id, membership.entered_at, membership.exited_at) == (
        ann.pk,
        NOW,
        None,
    )
    assert outbox("segment.entered") == [
        {
            "segment_id": segment.pk,
            "segment": "Germans",
            "customer_ids": [ann.pk],
            "at": NOW.isoformat(),
        }
    ]
    assert OutboxEntry.objects.get(topic="segment.entered").customer_id is None
    segment.refresh_from_db()
    assert (segment.size, segment.computed_at) == (1, NOW)
    assert list(SegmentSize.objects.values_list("day", "size")) == [(NOW.date(), 1)]


def test_recompute_exits_and_reentry_keeps_history(make_customer):
    ann = make_customer(country="DE")
    segment = save_segment(name="Germans", rule=GERMANS)
    recompute_segment(segment_id=segment.pk, now=NOW)
    Customer.objects.filter(pk=ann.pk).update(country="FR")
    later = NOW + timedelta(hours=1)

    assert recompute_segment(segment_id=segment.pk, now=later).exited == 1
    Customer.objects.filter(pk=ann.pk).update(country="DE")
    latest = NOW + timedelta(hours=2)
    assert recompute_segment(segment_id=segment.pk, now=latest).entered == 1

    history = list(
        SegmentMembership.objects.filter(segment=segment)
        .order_by("entered_at")
        .values_list("entered_at", "exited_at")
    )
    assert history == [(NOW, later), (latest, None)]
    assert [p["customer_id"] for p in outbox("segment.exited")] == [ann.pk]
    assert entered_ids() == [ann.pk, ann.pk]


def test_recompute_without_changes_writes_nothing_new(make_customer):
    make_customer(country="DE")
    segment = save_segment(name="Germans", rule=GERMANS)
    recompute_segment(segment_id=segment.pk, now=NOW)

    result = recompute_segment(segment_id=segment.pk, now=NOW + timedelta(days=1))

    assert (result.entered, result.exited, result.size) == (0, 0, 1)
    assert OutboxEntry.objects.filter(topic__startswith="segment.").count() == 1
    assert list(SegmentSize.objects.order_by("day").values_list("size", flat=True)) == [1, 1]


def versions() -> dict[int, int]:
    return document_versions(Customer.objects.values_list("pk", flat=True))


def test_a_first_compute_moves_document_versions_without_rewriting_profile_rows(make_customer):
    """Entering 400,000 profiles must not rewrite 400,000 wide profile rows:
    their stamps move (``ProfileStamp``), and with them what readers key
    cached documents by."""
    members = [make_customer(country="DE") for _ in range(3)]
    outsider = make_customer(country="FR")
    rows = dict(Customer.objects.values_list("pk", "version"))
    before = versions()
    segment = save_segment(name="Germans", rule=GERMANS)

    recompute_segment(segment_id=segment.pk, now=NOW)

    assert dict(Customer.objects.values_list("pk", "version")) == rows
    after = versions()
    assert {pk: after[pk] - before[pk] for pk in before} == {
        **{m.pk: 1 for m in members},
        outsider.pk: 0,
    }
    assert dict(ProfileStamp.objects.values_list("customer_id", "stamp")) == {
        m.pk: 1 for m in members
    }


def test_recompute_bumps_the_versions_of_exactly_the_profiles_it_moves(make_customer):
    stays, leaves, joins, outsider = (
        make_customer(country=c, first_name=n)
        for c, n in (("DE", "Jürgen"), ("DE", "Zoé"), ("FR", "Ann"), ("FR", "Åsa"))
    )
    segment = save_segment(name="Germans", rule=GERMANS)
    recompute_segment(segment_id=segment.pk, now=NOW)
    Customer.objects.filter(pk=leaves.pk).update(country="AT")
    Customer.objects.filter(pk=joins.pk).update(country="DE")
    before = versions()

    result = recompute_segment(segment_id=segment.pk, now=NOW + timedelta(hours=1))

    assert (result.entered, result.exited, result.size) == (1, 1, 2)
    after = versions()
    assert {pk: after[pk] - before[pk] for pk in before} == {
        stays.pk: 0,
        leaves.pk: 1,
        joins.pk: 1,
        outsider.pk: 0,
    }
    assert entered_ids() == [*sorted([stays.pk, leaves.pk]), joins.pk]
    assert [p["customer_id"] for p in outbox("segment.exited")] == [leaves.pk]


def test_recompute_enters_many_profiles_in_id_order_once_each(make_customer):
    people = [make_customer(country="DE", first_name=f"Person {n}") for n in range(40)]
    segment = save_segment(name="Germans", rule=GERMANS)
    # one of them already entered live, before the recompute
    reevaluate_customers(customer_ids=[people[7].pk], changes=["field:country"], now=NOW)

    result = recompute_segment(segment_id=segment.pk, now=NOW)

    assert (result.entered, result.exited, result.size) == (39, 0, 40)
    entered = entered_ids()
    assert entered[0] == people[7].pk
    assert entered[1:] == sorted(p.pk for p in people if p != people[7])
    assert SegmentMembership.objects.filter(segment=segment).count() == 40


def test_a_recompute_writes_its_entries_as_chunks_of_ids_in_id_order(make_customer, monkeypatch):
    monkeypatch.setattr(core_outbox, "CHUNK_SIZE", 4)
    people = sorted(make_customer(country="DE", first_name=f"P{n}").pk for n in range(10))
    segment = save_segment(name="Germans", rule=GERMANS)

    recompute_segment(segment_id=segment.pk, now=NOW)

    entries = list(OutboxEntry.objects.filter(topic="segment.entered").order_by("pk"))
    assert [entry.customer_id for entry in entries] == [None, None, None]
    assert [entry.payload["customer_ids"] for entry in entries] == [
        people[0:4],
        people[4:8],
        people[8:10],
    ]
    assert {entry.payload["segment_id"] for entry in entries} == {segment.pk}


def test_time_based_rule_lets_members_age_out_on_recompute(make_customer, make_event):
    ann = make_customer()
    make_event(ann, "Order Completed", days_ago=29)
    segment = save_segment(
        name="Recent buyers", rule={"event": "Order Completed", "within_days": 30}
    )
    recompute_segment(segment_id=segment.pk, now=NOW)
    assert active_ids(segment) == {ann.pk}

    recompute_segment(segment_id=segment.pk, now=NOW + timedelta(days=2))

    assert active_ids(segment) == set()


def test_reevaluate_enters_and_exits_one_profile(make_customer):
    ann = make_customer(country="FR")
    segment = save_segment(name="Germans", rule=GERMANS)
    Customer.objects.filter(pk=ann.pk).update(country="DE")

    result = reevaluate_customers(customer_ids=[ann.pk], changes=["field:country"], now=NOW)
    assert result == {"entered": [(segment.pk, ann.pk)], "exited": []}

    Customer.objects.filter(pk=ann.pk).update(country="FR")
    result = reevaluate_customers(customer_ids=[ann.pk], changes=["field:country"], now=NOW)
    assert result == {"entered": [], "exited": [(segment.pk, ann.pk)]}
    assert [p["customer_id"] for p in outbox("segment.exited")] == [ann.pk]


def test_reevaluate_skips_segments_the_change_cannot_affect(make_customer):
    ann = make_customer(country="DE")
    segment = save_segment(name="Germans", rule=GERMANS)

    unrelated = reevaluate_customers(
        customer_ids=[ann.pk], changes=["trait:plan", "event:Page Viewed"], now=NOW
    )
    related = reevaluate_customers(customer_ids=[ann.pk], changes=["field:country"], now=NOW)

    assert unrelated == {"entered": [], "exited": []}
    assert related == {"entered": [(segment.pk, ann.pk)], "exited": []}


def test_reevaluate_handles_a_batch_of_profiles_and_segments(make_customer, make_event):
    ann, bob, cem = (make_customer(country=c) for c in ("DE", "DE", "FR"))
    make_event(bob, "Order Completed")
    make_event(cem, "Order Completed")
    germans = save_segment(name="Germans", rule=GERMANS)
    buyers = save_segment(name="Buyers", rule={"event": "Order Completed"})

    result = reevaluate_customers(customer_ids=[ann.pk, bob.pk, cem.pk], now=NOW)

    assert result["entered"] == sorted(
        [(germans.pk, ann.pk), (germans.pk, bob.pk), (buyers.pk, bob.pk), (buyers.pk, cem.pk)]
    )


def test_merged_away_profile_leaves_its_segments(make_customer):
    ann, absorbed = make_customer(country="DE"), make_customer(country="DE")
    segment = save_segment(name="Germans", rule=GERMANS)
    recompute_segment(segment_id=segment.pk, now=NOW)
    Customer.objects.filter(pk=absorbed.pk).update(merged_into=ann)

    result = reevaluate_customers(customer_ids=[ann.pk, absorbed.pk], changes=["merge"], now=NOW)

    assert result == {"entered": [], "exited": [(segment.pk, absorbed.pk)]}
    assert active_ids(segment) == {ann.pk}


def test_static_segment_add_and_remove_keep_history_and_update_dependents(make_customer):
    ann = make_customer()
    vip = save_segment(name="VIP", kind=Segment.Kind.STATIC)
    not_vip = save_segment(name="Not VIP", rule={"not": {"segment": vip.pk}})
    recompute_segment(segment_id=not_vip.pk, now=NOW)
    assert active_ids(not_vip) == {ann.pk}

    assert add_to_static_segment(segment=vip, customer_ids=[ann.pk, ann.pk], now=NOW) == [ann.pk]
    assert add_to_static_segment(segment=vip, customer_ids=[ann.pk], now=NOW) == []
    assert active_ids(vip) == {ann.pk}
    assert active_ids(not_vip) == set()

    assert remove_from_static_segment(segment=vip, customer_ids=[ann.pk], now=NOW) == [ann.pk]
    assert active_ids(vip) == set()
    assert active_ids(not_vip) == {ann.pk}
    vip.refresh_from_db()
    assert vip.size == 0


def test_static_segment_is_not_changed_by_recompute(make_customer):
    ann = make_customer()
    vip = save_segment(name="VIP", kind=Segment.Kind.STATIC)
    add_to_static_segment(segment=vip, customer_ids=[ann.pk], now=NOW)

    result = recompute_segment(segment_id=vip.pk, now=NOW)

    assert (result.entered, result.exited, result.size) == (0, 0, 1)


def test_dynamic_segment_refuses_hand_picked_members(make_customer):
    segment = save_segment(name="Germans", rule=GERMANS)
    with pytest.raises(ValueError, match="dynamic"):
        add_to_static_segment(segment=segment, customer_ids=[make_customer().pk])


def test_saving_a_segment_computes_its_membership_after_commit(
    make_customer, django_capture_on_commit_callbacks
):
    ann = make_customer(country="DE")
    with django_capture_on_commit_callbacks(execute=True):
        segment = save_segment(name="Germans", rule=GERMANS)
    assert active_ids(segment) == {ann.pk}


def test_recompute_segments_command_reports_each_segment(make_customer, capsys):
    make_customer(country="DE")
    save_segment(name="Germans", rule=GERMANS)
    save_segment(name="VIP", kind=Segment.Kind.STATIC)

    call_command("recompute_segments")

    assert capsys.readouterr().out.splitlines() == [
        "Germans: 1 members (+1 / -0)",
        "VIP: 0 members (+0 / -0)",
    ]


def test_recompute_segments_command_refuses_unknown_ids(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no segment with id 404"):
        call_command("recompute_segments", "404")


def test_reevaluation_follows_a_rule_edited_since_the_last_call(make_customer):
    ann = make_customer(country="DE")
    segment = save_segment(name="Germans", rule=GERMANS)
    reevaluate_customers(customer_ids=[ann.pk], changes=["field:country"])
    assert active_ids(segment) == {ann.pk}

    save_segment(
        segment=segment, name="French", rule={"field": "country", "op": "eq", "value": "FR"}
    )
    reevaluate_customers(customer_ids=[ann.pk], changes=["field:country"])

    assert active_ids(segment) == set()


EVENT_RULES = [
    {"event": "Order Completed"},
    {"event": "Order Completed", "within_days": 30},
    {"event": "Order Completed", "last": {"op": "more_than_days_ago", "value": 90}},
    {"event": "Order Completed", "first": {"op": "within_last_days", "value": 60}},
    {"event": "Order Completed", "count": {"at_least": 2}},
    {"event": "Order Completed", "count": {"at_least": 1}, "within_days": 100},
    {"event": "Order Completed", "where": [{"property": "total", "op": "gt", "value": 50}]},
]


@pytest.mark.parametrize("rule", EVENT_RULES)
def test_a_one_event_rule_read_from_events_alone_matches_the_compiled_rule(
    rule, make_customer, make_event
):
    """The events-only query (``compiler.matching_from_events``) against the
    compiled rule over active profiles, merged-away profiles with events included."""
    from segments.compiler import compile_rule, matching_from_events

    people = [make_customer(first_name=f"P{n}") for n in range(6)]
    for person, days in zip(people, (1, 20, 95, 200, 40, 120), strict=True):
        make_event(person, "Order Completed", days_ago=days, properties={"total": days})
    make_event(people[1], "Order Completed", days_ago=150, properties={"total": 10})
    make_event(people[4], "Order Completed", days_ago=2)
    make_event(people[5], "Page Viewed", days_ago=1)
    Customer.objects.filter(pk=people[3].pk).update(merged_into=people[0])
    segment = save_segment(name="Buyers", rule=rule)
    expected = set(
        Customer.objects.active().filter(compile_rule(rule, now=NOW)).values_list("pk", flat=True)
    )
    assert matching_from_events(rule, now=NOW) is not None

    result = recompute_segment(segment_id=segment.pk, now=NOW)

    assert active_ids(segment) == expected
    assert result.entered == len(expected) == len(entered_ids())


@pytest.mark.parametrize(
    "rule",
    [
        {"event": "Order Completed", "performed": False},
        {"event": "Order Completed", "count": {"at_most": 1}},
        {"event": "Order Completed", "count": {"at_least": 0}},
        {
            "event": "Order Completed",
            "count": {"at_least": 2},
            "last": {"op": "within_last_days", "value": 9},
        },
        {"all": [{"event": "Order Completed"}]},
    ],
)
def test_event_rules_that_profiles_without_events_meet_are_not_read_from_events(rule):
    from segments.compiler import matching_from_events

    assert matching_from_events(rule, now=NOW) is None


@pytest.mark.parametrize(
    "rule", [{"event": "Order Completed"}, {"field": "country", "op": "eq", "value": "DE"}]
)
def test_a_first_compute_that_collides_with_a_live_entry_inserts_again_without_duplicates(
    rule, make_customer, make_event, monkeypatch
):
    """The members' plain INSERT runs in a savepoint: a unique violation (a live
    re-evaluation entered one of them meanwhile) rolls back what it wrote and
    the insert runs again with ON CONFLICT DO NOTHING. Both ways of moving
    members (events-only rules, rules over profiles)."""
    from django.db import IntegrityError

    from segments import membership

    people = [make_customer(first_name=f"P{n}", country="DE") for n in range(3)]
    for person in people:
        make_event(person, "Order Completed", days_ago=3)
    segment = save_segment(name="Buyers", rule=rule)
    real = membership._plain_then_on_conflict
    conflicts = []

    def colliding(run):
        def first_collides(conflict):
            conflicts.append(conflict)
            count = run(conflict)
            if not conflict:
                raise IntegrityError("duplicate key value violates segmentmembership_one_active")
            return count

        return real(first_collides)

    monkeypatch.setattr(membership, "_plain_then_on_conflict", colliding)

    result = recompute_segment(segment_id=segment.pk, now=NOW)

    assert conflicts == ["", " ON CONFLICT DO NOTHING"]
    assert (result.entered, result.size) == (3, 3)
    assert SegmentMembership.objects.filter(segment=segment).count() == 3
    assert entered_ids() == sorted(p.pk for p in people)
    assert dict(ProfileStamp.objects.values_list("customer_id", "stamp")) == {
        p.pk: 1 for p in people
    }


def test_an_events_only_recompute_exits_and_enters_in_one_pass(make_customer, make_event):
    ann, bob, cem = (make_customer(first_name=n) for n in ("Ann", "Bob", "Cem"))
    make_event(ann, "Order Completed", days_ago=29)
    make_event(cem, "Order Completed", days_ago=5)
    segment = save_segment(
        name="Recent buyers", rule={"event": "Order Completed", "within_days": 30}
    )
    recompute_segment(segment_id=segment.pk, now=NOW)
    make_event(bob, "Order Completed", days_ago=0)
    later = NOW + timedelta(days=2)

    result = recompute_segment(segment_id=segment.pk, now=later)

    assert (result.entered, result.exited, result.size) == (1, 1, 2)
    assert active_ids(segment) == {bob.pk, cem.pk}
    assert entered_ids() == [*sorted([ann.pk, cem.pk]), bob.pk]
    assert [p["customer_id"] for p in outbox("segment.exited")] == [ann.pk]
    assert dict(ProfileStamp.objects.values_list("customer_id", "stamp")) == {
        ann.pk: 2,
        bob.pk: 1,
        cem.pk: 1,
    }
