from datetime import UTC, date, datetime

import pytest

from core.models import OutboxEntry
from customers.models import (
    Customer,
    DataQualityIssue,
    Event,
    Identity,
    Merge,
    TraitSourcePriority,
)
from customers.services.merging import MergeError, merge_customers, merge_manually, unmerge
from customers.services.normalize import Issue
from customers.services.quality import record_issues
from tests.calls import call

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
MAR = datetime(2026, 3, 1, tzinfo=UTC)


def person(resolve, identifier, *, source, at, core=None, traits=None):
    """A profile made by an identify call of ``source`` at ``at``, with these values."""
    type_name, value = identifier
    sent = {k: v.isoformat() if isinstance(v, date) else v for k, v in (core or {}).items()}
    return call(source, at=at, traits={**sent, **(traits or {})}, **{type_name: value}).customer


def snapshot(customer):
    customer.refresh_from_db()
    fields = {f.name: getattr(customer, f.name) for f in Customer._meta.fields}
    fields.pop("updated_at")
    fields.pop("version")  # bookkeeping: moves with every change (profile documents)
    return fields


def test_newest_value_wins_per_trait_and_provenance_travels_with_it(resolve, source):
    old = person(
        resolve,
        ("user_id", "u-1"),
        source=source,
        at=JAN,
        core={"first_name": "Ann", "city": "Berlin"},
        traits={"plan": "free", "pet": "cat"},
    )
    new = person(
        resolve,
        ("anonymous_id", "d-1"),
        source=source,
        at=FEB,
        core={"city": "Hamburg", "company": "ACME"},
        traits={"plan": "pro"},
    )
    merge_customers(survivor=old, absorbed=[new], reason=Merge.Reason.MANUAL)
    old.refresh_from_db()
    assert (old.first_name, old.city, old.company) == ("Ann", "Hamburg", "ACME")
    assert old.traits == {"plan": "pro", "pet": "cat"}
    stamp_jan, stamp_feb = JAN.isoformat(), FEB.isoformat()
    assert old.trait_provenance == {
        "first_name": {"source": source.pk, "at": stamp_jan},
        "city": {"source": source.pk, "at": stamp_feb},
        "company": {"source": source.pk, "at": stamp_feb},
        "traits.plan": {"source": source.pk, "at": stamp_feb},
        "traits.pet": {"source": source.pk, "at": stamp_jan},
    }


def test_trusted_source_beats_a_newer_value_from_another_source(resolve, source):
    from sources.services.keys import create_source

    crm, _ = create_source(name="CRM", kind="crm")
    TraitSourcePriority.objects.create(source=crm, priority=1)
    ann = person(resolve, ("user_id", "u-1"), source=crm, at=JAN, core={"last_name": "Lee"})
    web = person(
        resolve, ("anonymous_id", "d-1"), source=source, at=MAR, core={"last_name": "Leigh"}
    )
    merge_customers(survivor=web, absorbed=[ann], reason=Merge.Reason.MANUAL)
    web.refresh_from_db()
    assert web.last_name == "Lee"
    assert web.trait_provenance["last_name"] == {"source": crm.pk, "at": JAN.isoformat()}


def test_merge_moves_events_identities_and_rows_pointing_at_the_profile(resolve, source):
    ann = resolve(("user_id", "u-1")).customer
    dup = resolve(("anonymous_id", "d-1")).customer
    call(source, at=JAN, type="track", event="Signed Up", message_id="m-1", anonymous_id="d-1")
    event = Event.objects.get(message_id="m-1")
    record_issues(issues=[Issue("email", "x@", "invalid_email", "bad")], customer=dup)
    [merge] = merge_customers(survivor=ann, absorbed=[dup], reason=Merge.Reason.MANUAL)
    assert Event.objects.get(pk=event.pk).customer_id == ann.pk
    assert DataQualityIssue.objects.get().customer_id == ann.pk
    assert Identity.objects.get(value="d-1").customer_id == ann.pk
    assert merge.moved["customers.Event.customer"] == [event.pk]
    assert merge.moved["customers.Identity.customer"] == [Identity.objects.get(value="d-1").pk]
    assert OutboxEntry.objects.filter(topic="profile.merged", customer=ann).count() == 1


def test_unmerge_restores_both_profiles_exactly(resolve, source, steward):
    ann = person(
        resolve,
        ("user_id", "u-1"),
        source=source,
        at=JAN,
        core={"first_name": "Ann", "birthday": date(1990, 5, 1)},
        traits={"plan": "free"},
    )
    dup = person(
        resolve,
        ("anonymous_id", "d-1"),
        source=source,
        at=FEB,
        core={"first_name": "Anne", "city": "Kiel"},
        traits={"plan": "pro", "pet": "dog"},
    )
    call(source, at=FEB, type="track", event="Viewed", message_id="m-1", anonymous_id="d-1")
    before = {c.pk: snapshot(c) for c in (ann, dup)}
    rows_before = {
        c.pk: (
            set(c.identities.values_list("pk", flat=True)),
            set(c.events.values_list("pk", flat=True)),
        )
        for c in (ann, dup)
    }
    [merge] = merge_manually(customer_ids=[ann.pk, dup.pk], actor=steward)
    restored = unmerge(merge=merge)
    assert restored.pk == dup.pk
    assert {c.pk: snapshot(c) for c in (ann, dup)} == before
    assert {
        c.pk: (
            set(c.identities.values_list("pk", flat=True)),
            set(c.events.values_list("pk", flat=True)),
        )
        for c in (ann, dup)
    } == rows_before
    merge.refresh_from_db()
    assert merge.undone_at is not None
    assert OutboxEntry.objects.filter(topic="profile.unmerged", customer=dup).count() == 1


def test_unmerge_keeps_what_changed_and_arrived_since_on_the_survivor(resolve, source):
    ann = person(resolve, ("user_id", "u-1"), source=source, at=JAN, core={"city": "Berlin"})
    dup = person(resolve, ("anonymous_id", "d-1"), source=source, at=FEB, core={"city": "Kiel"})
    [merge] = merge_customers(survivor=ann, absorbed=[dup], reason=Merge.Reason.MANUAL)
    call(source, at=MAR, traits={"city": "Bonn"}, user_id="u-1")
    later = resolve(("user_id", "u-1"), ("email", "ann@example.com"))
    unmerge(merge=merge)
    ann.refresh_from_db()
    dup.refresh_from_db()
    assert (ann.city, dup.city, dup.merged_into_id) == ("Bonn", "Kiel", None)
    assert later.customer.pk == ann.pk
    assert Identity.objects.get(value="ann@example.com").customer_id == ann.pk
    assert Identity.objects.get(value="d-1").customer_id == dup.pk


def test_unmerging_in_reverse_order_restores_a_three_way_merge(resolve, source):
    people = [
        person(resolve, ("anonymous_id", f"d-{i}"), source=source, at=at, core={"city": city})
        for i, (at, city) in enumerate([(JAN, "A"), (FEB, "B"), (MAR, "C")])
    ]
    before = {c.pk: snapshot(c) for c in people}
    merges = merge_customers(survivor=people[0], absorbed=people[1:], reason=Merge.Reason.MANUAL)
    assert Customer.objects.get(pk=people[0].pk).city == "C"
    for merge in reversed(merges):
        unmerge(merge=merge)
    assert {c.pk: snapshot(c) for c in people} == before


def test_merge_refuses_profiles_merged_already(resolve):
    a, b, c = (resolve(("anonymous_id", f"d-{i}")).customer for i in range(3))
    merge_customers(survivor=a, absorbed=[b], reason=Merge.Reason.MANUAL)
    with pytest.raises(MergeError) as error:
        merge_customers(survivor=c, absorbed=[b], reason=Merge.Reason.MANUAL)
    assert error.value.code == "already_merged"


def test_unmerge_twice_is_refused(resolve):
    a, b = (resolve(("anonymous_id", f"d-{i}")).customer for i in range(2))
    [merge] = merge_customers(survivor=a, absorbed=[b], reason=Merge.Reason.MANUAL)
    unmerge(merge=merge)
    with pytest.raises(MergeError) as error:
        unmerge(merge=merge)
    assert error.value.code == "already_undone"


def test_unmerge_waits_for_a_later_merge_of_the_survivor_to_be_undone(resolve):
    a, b, c = (resolve(("anonymous_id", f"d-{i}")).customer for i in range(3))
    [first] = merge_customers(survivor=b, absorbed=[c], reason=Merge.Reason.MANUAL)
    merge_customers(
        survivor=a, absorbed=[Customer.objects.get(pk=b.pk)], reason=Merge.Reason.MANUAL
    )
    with pytest.raises(MergeError) as error:
        unmerge(merge=first)
    assert error.value.code == "survivor_merged_since"


def test_manual_merge_keeps_the_identified_profile_and_records_the_user(resolve, steward):
    anonymous = resolve(("anonymous_id", "d-1")).customer
    known = resolve(("email", "ann@example.com")).customer
    [merge] = merge_manually(customer_ids=[anonymous.pk, known.pk], actor=steward)
    assert (merge.survivor_id, merge.absorbed_id, merge.actor, merge.reason) == (
        known.pk,
        anonymous.pk,
        steward,
        "manual",
    )
    assert merge.detail == {"by": steward.username}
