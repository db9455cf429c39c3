"""COPY-based bulk inserts (bulk_create elsewhere), on both databases."""

from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from simple_history.models import HistoricalRecords

from core.audit import acting_as
from core.db.copy import insert_history, insert_rows, insert_values, reserve_ids, update_values
from core.models import OutboxEntry
from customers.models import Customer, Event, IdentifierType, Identity
from customers.services.bulk import stored_message_ids

WHEN = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
LATER = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_insert_rows_sets_primary_keys_that_match_the_stored_rows(db, source):
    customer = Customer.objects.create()
    events = [
        Event(
            customer=customer,
            source=source,
            type="track",
            name=f"Order {n}",
            properties={"total": n * 1.5, "items": [{"sku": "A\tB"}], "note": 'it\'s "quoted"'},
            context={"ip": "203.0.113.9", "nested": {"empty": None}},
            timestamp=WHEN,
            received_at=WHEN,
            message_id=f"m-{n}",
        )
        for n in range(3)
    ]

    insert_rows(Event, events, set_pks=True)

    assert all(event.pk is not None and not event._state.adding for event in events)
    for event in events:
        stored = Event.objects.get(pk=event.pk)
        assert (stored.name, stored.message_id) == (event.name, event.message_id)
        assert stored.properties == event.properties
        assert stored.context == {"ip": "203.0.113.9", "nested": {"empty": None}}
        assert stored.timestamp == WHEN
        assert stored.sent_at is None


def test_insert_rows_stamps_auto_now_fields(db):
    before = datetime.now(UTC)
    profile = Customer(email="stamped@example.com")

    insert_rows(Customer, [profile], set_pks=True)

    stored = Customer.objects.get(pk=profile.pk)
    assert stored.created_at >= before.replace(microsecond=0)  # auto_now_add
    assert stored.updated_at >= before.replace(microsecond=0)  # auto_now
    assert (profile.created_at, profile.updated_at) == (stored.created_at, stored.updated_at)


def test_insert_history_matches_simple_history_rows(db, rf):
    email = IdentifierType.objects.get(name="email")
    customer = Customer.objects.create(first_name="Ann", traits={"tier": "gold"})
    identity = Identity(type=email, value="ann@example.com", customer=customer, first_seen=WHEN)
    insert_rows(Identity, [identity], set_pks=True)
    customer.first_name = "Anna"
    request = rf.get("/")
    request.user = get_user_model().objects.create_user("steward")
    HistoricalRecords.context.request = request
    try:
        with acting_as("source:7"):
            insert_history(Identity, [identity])
            insert_history(Customer, [customer], update=True, date=WHEN)
    finally:
        del HistoricalRecords.context.request

    row = Identity.history.get(id=identity.pk)
    assert (row.value, row.customer_id, row.history_type) == ("ann@example.com", customer.pk, "+")
    assert (row.history_actor, row.history_user.username) == ("source:7", "steward")
    latest = Customer.history.filter(id=customer.pk).order_by("-history_id").first()
    assert (latest.first_name, latest.traits) == ("Anna", {"tier": "gold"})
    assert latest.history_type == "~"
    assert latest.history_date == WHEN


def test_stored_message_ids_reports_only_this_sources_events(db, source):
    from customers.models import Source

    other = Source.objects.create(name="Other", kind="server")
    customer = Customer.objects.create()
    for src, message_id in ((source, "seen"), (other, "elsewhere")):
        Event.objects.create(
            customer=customer,
            source=src,
            type="track",
            name="x",
            properties={},
            context={},
            timestamp=WHEN,
            received_at=WHEN,
            message_id=message_id,
        )

    found = stored_message_ids(source_id=source.pk, message_ids=["seen", "elsewhere", "new"])

    assert found == {"seen"}
    assert stored_message_ids(source_id=source.pk, message_ids=[]) == set()


def test_insert_values_writes_plain_rows_and_reserved_ids_are_used(db):
    customer = Customer.objects.create()
    ids = reserve_ids(OutboxEntry, 2)
    columns = ("topic", "customer_id", "payload", "created_at")
    rows = [("track", customer.pk, {"n": n, "tags": ["a", "b"]}, WHEN) for n in range(2)]
    if ids is not None:  # PostgreSQL: numbered ahead of the insert
        columns, rows = ("id", *columns), [(pk, *row) for pk, row in zip(ids, rows, strict=True)]

    insert_values(OutboxEntry, columns, rows)

    stored = list(OutboxEntry.objects.filter(customer=customer).order_by("pk"))
    assert [entry.payload for entry in stored] == [
        {"n": 0, "tags": ["a", "b"]},
        {"n": 1, "tags": ["a", "b"]},
    ]
    assert {entry.created_at for entry in stored} == {WHEN}
    if ids is not None:
        assert [entry.pk for entry in stored] == ids


def test_update_values_sets_each_row_by_its_key_and_increments_in_the_same_statement(db):
    ann, bob, other = (Customer.objects.create(first_name=name) for name in ("A", "B", "C"))
    versions = dict(Customer.objects.values_list("pk", "version"))

    update_values(
        Customer,
        ["id", "first_name", "traits", "last_seen"],
        [(ann.pk, "Ann", {"plan": "pro", "tags": ["a\tb"]}, WHEN), (bob.pk, "Bob", {}, WHEN)],
        increment=["version"],
    )

    stored = {c.pk: c for c in Customer.objects.all()}
    assert (stored[ann.pk].first_name, stored[ann.pk].traits) == (
        "Ann",
        {"plan": "pro", "tags": ["a\tb"]},
    )
    assert (stored[bob.pk].first_name, stored[bob.pk].last_seen) == ("Bob", WHEN)
    assert stored[other.pk].first_name == "C"
    assert {pk: stored[pk].version - versions[pk] for pk in versions} == {
        ann.pk: 1,
        bob.pk: 1,
        other.pk: 0,
    }


def test_insert_rows_with_history_writes_each_objects_own_user_date_and_reason(db):
    steward = get_user_model().objects.create_user("steward")
    plain = Customer(first_name="Ann", traits={"tier": "gold"})
    own = Customer(first_name="Bob")
    own._history_user = steward
    own._history_date = WHEN
    own._change_reason = "imported"
    with acting_as("source:7"):
        insert_rows(Customer, [plain, own], history=True, date=LATER)

    rows = {row.id: row for row in Customer.history.all()}
    assert set(rows) == {plain.pk, own.pk}
    first, second = rows[plain.pk], rows[own.pk]
    assert (first.first_name, first.traits, first.history_type) == ("Ann", {"tier": "gold"}, "+")
    assert (first.history_date, first.history_user_id, first.history_change_reason) == (
        LATER,
        None,
        "",
    )
    assert first.created_at == Customer.objects.get(pk=plain.pk).created_at
    assert (second.history_date, second.history_user_id, second.history_change_reason) == (
        WHEN,
        steward.pk,
        "imported",
    )
    assert {first.history_actor, second.history_actor} == {"source:7"}
