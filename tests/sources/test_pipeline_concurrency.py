"""Two transactions on the same person: nothing applied twice, nothing lost.

A second connection plays the other worker: it holds a lock, writes and
commits while the pipeline waits in a thread.
"""

import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection

from core.db.copy import insert_rows
from customers.models import Customer, Event, IdentifierType, Identity
from customers.services.identity import identifier_lock_key
from sources.contracts import NormalizedMessage
from sources.pipeline import apply_messages
from tests.sources.peers import other_connection

T0 = datetime(2026, 4, 1, tzinfo=UTC)
pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def in_thread(work) -> threading.Thread:
    def run():
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def identify(source, message_id, email, **traits) -> NormalizedMessage:
    return NormalizedMessage(
        source_id=source.pk,
        message_id=message_id,
        type="identify",
        timestamp=T0,
        received_at=T0,
        traits={"email": email, **traits},
    )


def test_a_call_stored_by_the_transaction_we_waited_for_is_not_applied_again(source):
    other = other_connection()
    other.execute("SELECT pg_advisory_lock(%s)", [identifier_lock_key("email", "ann@example.com")])
    call = identify(source, "same-call", "ann@example.com", firstName="Ann")
    outcome = []
    worker = in_thread(lambda: outcome.extend(apply_messages([call])))
    time.sleep(0.5)  # the pipeline waits for the person's lock
    customer = Customer.objects.create(email="ann@example.com")
    Event.objects.create(
        customer=customer,
        source=source,
        type="identify",
        name="",
        properties={},
        context={},
        timestamp=T0,
        received_at=T0,
        message_id="same-call",
    )
    other.close()  # the other worker's batch is over
    worker.join(timeout=30)

    assert [result.event_created for result in outcome] == [False]  # no error either
    assert Event.objects.filter(message_id="same-call").count() == 1
    assert Customer.objects.count() == 1


def test_a_profile_written_meanwhile_by_another_transaction_keeps_its_change(source):
    email = IdentifierType.objects.get(name="email")
    pat = Customer.objects.create(email="pat@example.com", first_name="Pat", city="Old")
    Identity.objects.create(type=email, value="pat@example.com", customer=pat)
    other = other_connection()
    other.execute("SELECT id FROM customers_customer WHERE id = %s FOR UPDATE", [pat.pk])
    calls = [
        identify(source, "c1", "pat@example.com", firstName="Patty"),
        # another person's city: the batch writes the city column for all its profiles
        identify(source, "c2", "quinn@example.com", address={"city": "Qtown"}),
    ]
    worker = in_thread(lambda: apply_messages(calls))
    time.sleep(0.5)  # the pipeline reaches Pat's row
    other.execute("UPDATE customers_customer SET city = 'Fresh' WHERE id = %s", [pat.pk])
    other.commit()
    other.close()
    worker.join(timeout=30)

    pat.refresh_from_db()
    assert (pat.first_name, pat.city) == ("Patty", "Fresh")


def test_a_failing_copy_raises_djangos_integrity_error(source):
    customer = Customer.objects.create()

    def event():
        return Event(
            customer=customer,
            source=source,
            type="track",
            name="x",
            properties={},
            context={},
            timestamp=T0,
            received_at=T0,
            message_id="dup",
        )

    insert_rows(Event, [event()])
    with pytest.raises(IntegrityError):
        insert_rows(Event, [event()])
