"""The batched pipeline's set-at-a-time writes give what one-at-a-time writes gave.

A batch's profile changes are written once per profile (one UPDATE, one
history row, one outbox entry per changing message); new identifiers of a
known person are attached in bulk, unless a per-profile limit says no.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import OutboxEntry
from customers.models import (
    Customer,
    DataQualityIssue,
    Event,
    IdentifierType,
    Identity,
)
from sources.contracts import NormalizedMessage
from sources.pipeline import apply_messages

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def call(source, n: int, kind: str = "identify", **fields) -> NormalizedMessage:
    return NormalizedMessage(
        source_id=source.pk,
        message_id=f"batch-{n}",
        type=kind,
        timestamp=T0 + timedelta(minutes=n),
        received_at=T0 + timedelta(minutes=n),
        **fields,
    )


def history_types(customer: Customer) -> list[str]:
    return list(
        Customer.history.filter(id=customer.pk)
        .order_by("history_date", "history_id")
        .values_list("history_type", flat=True)
    )


def test_new_person_gets_one_creation_history_row_holding_the_batch_traits(db, source):
    results = apply_messages(
        [
            call(source, 1, user_id="u1", traits={"email": "Ann@Example.com", "plan": "free"}),
            call(source, 2, user_id="u1", traits={"plan": "pro", "firstName": "Ann"}),
        ]
    )

    customer = Customer.objects.get(pk=results[0].customer.pk)
    assert results[0].created_profile
    assert results[1].customer.pk == customer.pk
    assert (customer.email, customer.first_name, customer.traits) == (
        "ann@example.com",
        "Ann",
        {"plan": "pro"},
    )
    assert history_types(customer) == ["+"]
    first = Customer.history.get(id=customer.pk)
    assert (first.email, first.traits) == ("ann@example.com", {"plan": "pro"})
    assert first.history_actor == "system"
    topics = sorted(OutboxEntry.objects.filter(customer=customer).values_list("topic", flat=True))
    assert topics == ["identify", "identify", "profile.created"]
    # each event's outbox entry points at the stored event
    events = Event.objects.filter(customer=customer)
    entries = OutboxEntry.objects.filter(customer=customer, topic="identify")
    assert {(e.payload["event_id"], e.payload["message_id"]) for e in entries} == set(
        events.values_list("pk", "message_id")
    )
    assert customer.last_seen == T0 + timedelta(minutes=2)


@pytest.mark.postgres_only
def test_new_people_are_inserted_once_with_their_final_values(db, source):
    with CaptureQueriesContext(connection) as queries:
        results = apply_messages(
            [
                call(source, 1, user_id="u1", traits={"email": "ann@example.com"}),
                call(source, 2, user_id="u2", traits={"firstName": "Bob"}),
                call(source, 3, kind="track", anonymous_id="a3", event="Viewed"),
            ]
        )

    profile_updates = [q for q in queries if q["sql"].startswith('UPDATE "customers_customer"')]
    assert profile_updates == []
    ann, bob, anonymous = (Customer.objects.get(pk=r.customer.pk) for r in results)
    assert (ann.email, bob.first_name, anonymous.is_identified) == ("ann@example.com", "Bob", False)
    assert bob.last_seen == T0 + timedelta(minutes=2)
    assert Identity.objects.get(value="u2").customer_id == bob.pk
    assert history_types(bob) == ["+"]


@pytest.mark.postgres_only
def test_a_batch_writes_its_outbox_entries_as_plain_values(db, source, monkeypatch):
    known = apply_messages([call(source, 1, user_id="u1", traits={"plan": "free"})])[0].customer
    OutboxEntry.objects.all().delete()

    def no_instances(*args, **kwargs):
        raise AssertionError("an OutboxEntry instance was built")

    monkeypatch.setattr(OutboxEntry, "__init__", no_instances)
    apply_messages(
        [
            call(source, 2, user_id="u1", traits={"plan": "pro"}),
            call(source, 3, user_id="u2", traits={"firstName": "Bob"}),
        ]
    )
    monkeypatch.undo()

    entries = OutboxEntry.objects.exclude(topic="identify").order_by("pk")
    bob = Identity.objects.get(value="u2").customer_id
    assert [(e.topic, e.customer_id, e.payload) for e in entries] == [
        ("profile.created", bob, {"customer_id": bob}),
        ("profile.updated", known.pk, {"customer_id": known.pk, "changed": ["traits.plan"]}),
    ]


def test_known_person_changed_twice_in_a_batch_is_written_once(db, source):
    known = apply_messages([call(source, 1, user_id="u1", traits={"plan": "free"})])[0].customer
    OutboxEntry.objects.all().delete()

    results = apply_messages(
        [
            call(source, 2, user_id="u1", traits={"plan": "pro"}),
            call(source, 3, user_id="u1", traits={"plan": "pro", "lastName": "Lee"}),
            call(source, 4, kind="track", user_id="u1", event="Order Completed"),
        ]
    )

    customer = Customer.objects.get(pk=known.pk)
    assert [r.changed for r in results] == [("traits.plan",), ("last_name",), ()]
    assert (customer.traits, customer.last_name) == ({"plan": "pro"}, "Lee")
    assert customer.trait_provenance["last_name"]["at"] == (T0 + timedelta(minutes=3)).isoformat()
    assert customer.last_seen == T0 + timedelta(minutes=4)
    assert history_types(customer) == ["+", "~"]
    updates = OutboxEntry.objects.filter(topic="profile.updated").order_by("pk")
    assert [u.payload["changed"] for u in updates] == [["traits.plan"], ["last_name"]]


def test_a_call_that_only_moves_last_seen_writes_no_history(db, source):
    known = apply_messages([call(source, 1, user_id="u1", traits={"plan": "free"})])[0].customer

    apply_messages([call(source, 5, kind="page", user_id="u1")])

    customer = Customer.objects.get(pk=known.pk)
    assert customer.last_seen == T0 + timedelta(minutes=5)
    assert history_types(customer) == ["+"]


def test_new_identifiers_of_known_people_are_attached_in_one_batch(db, source):
    first = apply_messages([call(source, 1, user_id="u1"), call(source, 2, anonymous_id="anon-2")])
    u1, anon = (r.customer for r in first)
    assert not Customer.objects.get(pk=anon.pk).is_identified

    results = apply_messages(
        [
            call(source, 3, user_id="u1", traits={"email": "u1@example.com"}),
            call(source, 4, kind="track", event="Viewed", user_id="u1", anonymous_id="anon-4"),
            call(source, 5, anonymous_id="anon-2", traits={"email": "two@example.com"}),
        ]
    )

    assert [r.customer.pk for r in results] == [u1.pk, u1.pk, anon.pk]
    assert [r.new_identities for r in results] == [
        ("email:u1@example.com",),
        ("anonymous_id:anon-4",),
        ("email:two@example.com",),
    ]
    assert not any(r.created_profile or r.merged_ids for r in results)
    held = set(Identity.objects.filter(customer=u1).values_list("type__name", "value"))
    assert held == {("user_id", "u1"), ("email", "u1@example.com"), ("anonymous_id", "anon-4")}
    assert Identity.history.filter(value="two@example.com", history_type="+").count() == 1
    assert Customer.objects.get(pk=anon.pk).is_identified
    assert history_types(anon)[-1] == "~"


def test_attaching_beyond_a_limit_falls_back_to_resolution_and_reports_it(db, source):
    IdentifierType.objects.filter(name="email").update(max_per_profile=1)
    u1 = apply_messages([call(source, 1, user_id="u1", traits={"email": "a@example.com"})])[
        0
    ].customer

    results = apply_messages(
        [
            call(source, 2, kind="track", event="Viewed", user_id="u1"),
            call(source, 3, user_id="u1", traits={"email": "b@example.com"}),
        ]
    )

    assert [r.customer.pk for r in results] == [u1.pk, u1.pk]
    assert results[1].new_identities == ()
    emails = set(Identity.objects.filter(type__name="email").values_list("value", flat=True))
    assert emails == {"a@example.com"}
    conflict = DataQualityIssue.objects.get(customer=u1, code="limit_conflict")
    assert conflict.value == "b@example.com"


def test_two_groups_of_calls_reaching_one_known_person_both_attach(db, source):
    """Calls naming one person by different known identifiers (and so not
    grouped together) each attach what they bring, even when a later group
    brings nothing new."""
    ann = apply_messages([call(source, 1, user_id="u1", traits={"email": "ann@example.com"})])[
        0
    ].customer

    results = apply_messages(
        [
            call(source, 2, kind="track", event="Viewed", user_id="u1", anonymous_id="anon-2"),
            call(source, 3, traits={"email": "ann@example.com", "plan": "pro"}),
        ]
    )

    assert [r.customer.pk for r in results] == [ann.pk, ann.pk]
    assert results[0].new_identities == ("anonymous_id:anon-2",)
    held = set(Identity.objects.filter(customer=ann).values_list("type__name", "value"))
    assert ("anonymous_id", "anon-2") in held
