"""``merge_groups``: many groups in one call (duplicate detection's path), on
both databases (PostgreSQL re-points through a mapping table, SQLite by id
chunks): every related table, clashes under unique constraints, the merge
log, versions, and undo."""

from datetime import UTC, datetime

import pytest

from consent.models import ConsentState
from consent.services.consent import record_consent
from core.models import OutboxEntry
from customers.models import (
    Customer,
    DataQualityIssue,
    Event,
    Group,
    GroupMembership,
    IdentifierType,
    Identity,
    Merge,
)
from customers.services.merging import customer_relations, merge_groups, unmerge
from customers.services.versions import bumped_once
from segments.models import Segment, SegmentMembership, StoredTrait, StoredTraitValue

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.fixture
def world(db, source):
    """Two survivors, three absorbed profiles, a bystander; rows of every
    related table on each absorbed profile and the bystander, and clashes
    under unique constraints with the survivor or an earlier absorbed one."""
    s1, s2, a1, a2, a3, bystander = (
        Customer.objects.create(first_name=name, first_seen=JAN)
        for name in ("S1", "S2", "A1", "A2", "A3", "B")
    )
    anonymous = IdentifierType.objects.get(name="anonymous_id")
    g1, g2 = Group.objects.create(group_id="g1"), Group.objects.create(group_id="g2")
    vip = Segment.objects.create(name="VIP")
    score = StoredTrait.objects.create(name="score", producer="insights")
    rows: dict[str, list] = {}

    def row(label, obj):
        rows.setdefault(label, []).append(obj)
        return obj

    for n, customer in enumerate((a1, a2, a3, bystander)):
        row("customers.Identity.customer", Identity.objects.create(
            type=anonymous, value=f"d-{n}", customer=customer
        ))  # fmt: skip
        for k in range(2):
            row("customers.Event.customer", Event.objects.create(
                customer=customer, source=source, type="track", name="Viewed",
                timestamp=JAN, received_at=JAN, message_id=f"m-{n}-{k}",
            ))  # fmt: skip
        row("customers.DataQualityIssue.customer", DataQualityIssue.objects.create(
            customer=customer, field="email", value="x@", code="invalid_email", message="bad"
        ))  # fmt: skip
        row("consent.ConsentRecord.customer", record_consent(
            customer=customer, purpose="email_marketing", state="granted", method="api",
            occurred_at=FEB,
        ))  # fmt: skip
        OutboxEntry.objects.create(
            topic=OutboxEntry.Topic.PROFILE_UPDATED, customer=customer, payload={}
        )
    record_consent(
        customer=s1, purpose="email_marketing", state="denied", method="api", occurred_at=JAN
    )
    rows["consent.ConsentState.customer"] = list(ConsentState.objects.exclude(customer=s1))
    # groups: s1 holds g1; a1 in g1 (clash) and g2; a2 in g2 (clash with a1's, moved first)
    GroupMembership.objects.create(group=g1, customer=s1)
    for group, customer in ((g1, a1), (g2, a1), (g2, a2), (g1, a3), (g1, bystander)):
        row("customers.GroupMembership.customer", GroupMembership.objects.create(
            group=group, customer=customer
        ))  # fmt: skip
    # one active membership per segment: a1's clashes with s1's; a past one never does
    SegmentMembership.objects.create(segment=vip, customer=s1, entered_at=JAN)
    for customer, exited in ((a1, None), (a1, FEB), (a3, None), (bystander, None)):
        row("segments.SegmentMembership.customer", SegmentMembership.objects.create(
            segment=vip, customer=customer, entered_at=JAN, exited_at=exited
        ))  # fmt: skip
    StoredTraitValue.objects.create(trait=score, customer=s1, number=1, computed_at=JAN)
    for customer in (a1, a3, bystander):
        row("segments.StoredTraitValue.customer", StoredTraitValue.objects.create(
            trait=score, customer=customer, number=2, computed_at=JAN
        ))  # fmt: skip
    return {"s1": s1, "s2": s2, "a1": a1, "a2": a2, "a3": a3, "b": bystander}, rows


def owner(obj) -> int:
    return type(obj)._base_manager.values_list("customer_id", flat=True).get(pk=obj.pk)


def test_every_related_table_has_rows_in_the_world(world):
    _, rows = world
    assert {relation.label for relation in customer_relations()} <= set(rows)


def test_merge_groups_repoints_every_related_row_except_clashes_and_logs_which(world):
    p, rows = world
    kept_expected = {
        # the survivor holds an equivalent row under a unique constraint
        ("a1", "customers.GroupMembership.customer"): 1,  # g1
        ("a1", "consent.ConsentState.customer"): 1,
        ("a1", "segments.SegmentMembership.customer"): 1,  # the active one
        ("a1", "segments.StoredTraitValue.customer"): 1,
        # an earlier absorbed profile of the same survivor moved one first
        ("a2", "customers.GroupMembership.customer"): 1,  # g2, after a1's
        ("a2", "consent.ConsentState.customer"): 1,
    }
    before = {label: {obj.pk: owner(obj) for obj in objs} for label, objs in rows.items()}
    versions = dict(Customer.objects.values_list("pk", "version"))
    updates = OutboxEntry.objects.filter(topic=OutboxEntry.Topic.PROFILE_UPDATED)
    emitted = dict(updates.values_list("pk", "customer_id"))
    assert {p[name].pk for name in ("a1", "a2", "a3")} <= set(emitted.values())

    merges = merge_groups(
        groups=[(p["s1"].pk, [p["a1"].pk, p["a2"].pk]), (p["s2"].pk, [p["a3"].pk])],
        reason=Merge.Reason.DUPLICATE,
    )

    survivor_of = {p["a1"].pk: p["s1"].pk, p["a2"].pk: p["s1"].pk, p["a3"].pk: p["s2"].pk}
    assert {(m.absorbed_id, m.survivor_id) for m in merges} == set(survivor_of.items())
    by_absorbed = {m.absorbed_id: Merge.objects.get(pk=m.pk) for m in merges}
    for relation in customer_relations():
        label = relation.label
        for pk, was in before[label].items():
            now = owner(type(rows[label][0])._base_manager.get(pk=pk))
            if was not in survivor_of:  # the bystander's rows stay
                assert now == was, label
                continue
            merge = by_absorbed[was]
            if now == was:
                assert pk in merge.kept[label], label
            else:
                assert now == survivor_of[was], label
                assert pk in merge.moved[label], label
        for name in ("a1", "a2", "a3"):
            merge = by_absorbed[p[name].pk]
            had = sorted(pk for pk, was in before[label].items() if was == p[name].pk)
            moved, kept = merge.moved.get(label, []), merge.kept.get(label, [])
            assert sorted(moved + kept) == had, (name, label)
            assert len(kept) == kept_expected.get((name, label), 0), (name, label)
            assert moved == sorted(moved)
            assert kept == sorted(kept)
    # the profiles: absorbed ones point at their survivor, each version moved once
    after = {c.pk: c for c in Customer.objects.all()}
    for absorbed, survivor in survivor_of.items():
        assert after[absorbed].merged_into_id == survivor
    assert {pk: after[pk].version - versions[pk] for pk in versions} == {
        **{p[name].pk: 1 for name in ("s1", "s2", "a1", "a2", "a3")},
        p["b"].pk: 0,
    }
    assert OutboxEntry.objects.filter(topic="profile.merged").count() == 3
    # what was emitted stays as emitted: each update entry still names its profile
    updates = OutboxEntry.objects.filter(topic=OutboxEntry.Topic.PROFILE_UPDATED)
    assert dict(updates.values_list("pk", "customer_id")) == emitted
    assert all("core.OutboxEntry.customer" not in m.moved for m in merges)


def test_undoing_group_merges_puts_every_moved_row_back(world):
    p, rows = world
    before = {label: {obj.pk: owner(obj) for obj in objs} for label, objs in rows.items()}
    merges = merge_groups(
        groups=[(p["s1"].pk, [p["a1"].pk, p["a2"].pk]), (p["s2"].pk, [p["a3"].pk])],
        reason=Merge.Reason.DUPLICATE,
    )
    for merge in reversed(merges):
        unmerge(merge=Merge.objects.get(pk=merge.pk))
    assert {label: {obj.pk: owner(obj) for obj in objs} for label, objs in rows.items()} == before
    assert not Customer.objects.exclude(merged_into=None).exists()


def test_group_merges_inside_a_batch_bump_each_version_once(world):
    p, _ = world
    versions = dict(Customer.objects.values_list("pk", "version"))
    with bumped_once() as noted:
        noted.add(p["s1"].pk)  # changed earlier in the same batch
        merge_groups(groups=[(p["s1"].pk, [p["a1"].pk])], reason=Merge.Reason.DUPLICATE)
    after = dict(Customer.objects.values_list("pk", "version"))
    assert {pk: after[pk] - versions[pk] for pk in versions if after[pk] != versions[pk]} == {
        p["s1"].pk: 1,
        p["a1"].pk: 1,
    }


def test_survivor_values_and_history_are_written_for_every_group(world):
    p, _ = world
    Customer.objects.filter(pk=p["a1"].pk).update(city="Kiel", traits={"plan": "pro"})
    Customer.objects.filter(pk=p["a3"].pk).update(company="ACME")
    merge_groups(
        groups=[(p["s1"].pk, [p["a1"].pk]), (p["s2"].pk, [p["a3"].pk])],
        reason=Merge.Reason.DUPLICATE,
    )
    s1, s2 = Customer.objects.get(pk=p["s1"].pk), Customer.objects.get(pk=p["s2"].pk)
    assert (s1.city, s1.traits, s2.company) == ("Kiel", {"plan": "pro"}, "ACME")
    assert (s1.first_name, s2.first_name) == ("S1", "S2")
    assert s1.history.filter(history_type="~").count() == 1
    assert s2.history.filter(history_type="~").count() == 1
