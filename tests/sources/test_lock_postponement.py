"""Worker batches do not wait for people another transaction is busy with.

Another connection holds the advisory lock of one identifier, as a worker in
the middle of its own batch would.
"""

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from customers.models import Event
from customers.services.identity import identifier_lock_key
from sources.contracts import NormalizedMessage
from sources.models import IntakeMessage
from sources.pipeline import apply_messages
from sources.services.processing import process_batch
from tests.sources.peers import other_connection

T0 = datetime(2026, 4, 1, tzinfo=UTC)
pytestmark = pytest.mark.postgres_only


def other_transaction_holding(type_name: str, value: str) -> psycopg.Connection:
    holder = other_connection(autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", [identifier_lock_key(type_name, value)])
    return holder


def track(source, n: int, **who) -> NormalizedMessage:
    return NormalizedMessage(
        source_id=source.pk,
        message_id=f"lock-{n}",
        type="track",
        event="Viewed",
        timestamp=T0 + timedelta(seconds=n),
        received_at=T0 + timedelta(seconds=n),
        **who,
    )


def test_a_busy_persons_messages_are_postponed_with_everything_linked_to_them(db, source):
    holder = other_transaction_holding("user_id", "busy")
    try:
        results = apply_messages(
            [
                track(source, 1, user_id="busy", anonymous_id="anon-1"),
                track(source, 2, anonymous_id="anon-1"),  # linked through anon-1
                track(source, 3, user_id="free"),
            ],
            wait_for_locks=False,
        )
    finally:
        holder.close()

    assert [r.postponed for r in results] == [True, True, False]
    assert [r.customer is None for r in results] == [True, True, False]
    assert list(Event.objects.values_list("message_id", flat=True)) == ["lock-3"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_batch_applies_postponed_calls_once_the_other_transaction_ends(source):
    rows = [
        IntakeMessage.objects.create(
            source=source,
            message_id=f"m{n}",
            type="track",
            payload={"type": "track", "messageId": f"m{n}", "userId": user, "event": "A"},
        )
        for n, user in enumerate(["busy", "free", "busy"])
    ]
    holder = other_transaction_holding("user_id", "busy")
    seen_before_release = []

    def other_batch_ends():
        # what another connection sees while "busy" is still held
        query = "SELECT message_id, status FROM sources_intakemessage ORDER BY id"
        seen_before_release.extend(holder.execute(query).fetchall())
        holder.close()

    threading.Timer(1.0, other_batch_ends).start()

    outcome = process_batch(intake_ids=[rows[1].pk], fill_to=10)

    assert sorted(outcome.processed) == sorted(row.pk for row in rows)
    assert set(IntakeMessage.objects.values_list("status", flat=True)) == {"processed"}
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["m0", "m1", "m2"]
    # the free person's call was committed without waiting for the busy one
    assert seen_before_release == [("m0", "pending"), ("m1", "processed"), ("m2", "pending")]
