import threading
from datetime import UTC, datetime

import pytest
from django.db import connection

from customers.models import Customer, IdentifierType, Identity
from sources.contracts import NormalizedMessage
from sources.pipeline import process_message

AT = datetime(2026, 5, 1, tzinfo=UTC)
WORKERS = 8


def run_concurrently(target, count):
    barrier = threading.Barrier(count)
    errors = []

    def work(i):
        try:
            barrier.wait(timeout=10)
            target(i)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_messages_for_one_new_person_create_one_profile(source):
    def identify(i):
        process_message(
            NormalizedMessage(
                source_id=source.pk,
                message_id=f"m-{i}",
                type="identify",
                timestamp=AT,
                received_at=AT,
                user_id="u-1",
                anonymous_id=f"device-{i}",
                traits={"email": "ann@example.com"},
            )
        )

    errors = run_concurrently(identify, WORKERS)
    assert errors == []
    assert Customer.objects.active().count() == 1
    person = Customer.objects.active().get()
    assert Identity.objects.filter(customer=person).count() == WORKERS + 2
    assert person.events.count() == WORKERS


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_chained_messages_never_deadlock_and_end_in_one_profile(source):
    # message i links device i to device i+1: together they are one person
    IdentifierType.objects.filter(name="email").update(max_per_profile=100)
    # devices as trusted as emails: no device is refused as another email's
    # (conflicting identifiers, tested in test_shared_values)
    IdentifierType.objects.filter(name="anonymous_id").update(priority=3)

    def link(i):
        process_message(
            NormalizedMessage(
                source_id=source.pk,
                message_id=f"m-{i}",
                type="identify",
                timestamp=AT,
                received_at=AT,
                anonymous_id=f"device-{i}",
                traits={"email": f"p{i + 1}@example.com"},
            )
        )
        process_message(
            NormalizedMessage(
                source_id=source.pk,
                message_id=f"n-{i}",
                type="identify",
                timestamp=AT,
                received_at=AT,
                anonymous_id=f"device-{i + 1}",
                traits={"email": f"p{i + 1}@example.com"},
            )
        )

    errors = run_concurrently(link, WORKERS)
    assert errors == []
    assert Customer.objects.active().count() == 1
    assert set(Identity.objects.values_list("customer__merged_into", flat=True)) == {None}
    assert Identity.objects.count() == 2 * WORKERS + 1
