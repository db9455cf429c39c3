"""Profile versions move once per batch, however many kinds of change a profile gets.

Every bump rewrites the profile row (and its index entries): an import batch
that gave a known person identities, traits and an event used to rewrite the
row three more times. The documents keyed by version must still move on
every change (tests/personalization/test_documents.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core.db.bulk import update_rows
from customers.models import Customer, Merge, ProfileStamp
from customers.pointers import document_versions, find_profile_pointer
from customers.services.merging import merge_customers, unmerge
from customers.services.versions import (
    bump_stamps,
    bump_stamps_selected,
    bump_versions,
    bumped_once,
)
from sources.contracts import NormalizedMessage
from sources.pipeline import apply_messages
from sources.services.keys import create_source
from tests.calls import call

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def _version(pk: int) -> int:
    return Customer.objects.values_list("version", flat=True).get(pk=pk)


def _message(source, **fields) -> NormalizedMessage:
    return NormalizedMessage(
        source_id=source.pk,
        message_id=str(uuid.uuid4()),
        timestamp=AT,
        received_at=AT,
        **fields,
    )


def test_a_known_profile_changed_every_way_in_one_batch_moves_one_version():
    source, _key = create_source(name="Shop (web)", kind="website")
    known = call(source, at=AT, user_id="cust-77", traits={"email": "ines@example.pt"}).customer
    before = _version(known.pk)
    apply_messages(
        [
            # a new identity, new traits, an event: each used to bump on its own
            _message(
                source,
                type="identify",
                user_id="cust-77",
                anonymous_id="a5f1-ines-phone",
                traits={"first_name": "Inês", "plan": "gold"},
            ),
            _message(source, type="track", user_id="cust-77", event="Order Completed"),
        ]
    )
    assert _version(known.pk) == before + 1


def test_only_an_event_still_moves_the_version():
    source, _key = create_source(name="Shop (web)", kind="website")
    known = call(source, at=AT, user_id="cust-79").customer
    before = _version(known.pk)
    # earlier than last_seen: the profile row itself does not change
    call(
        source, at=datetime(2026, 1, 1, tzinfo=UTC), type="track", event="Viewed", user_id="cust-79"
    )
    assert _version(known.pk) == before + 1


def test_bumps_inside_the_block_are_made_once_at_its_end():
    ids = [Customer.objects.create().pk for _ in range(3)]
    with transaction.atomic():
        with CaptureQueriesContext(connection) as inside, bumped_once():
            bump_versions(ids[:2])
            bump_versions(ids[1:])
            with bumped_once():  # nested: noted in the outer block
                bump_versions(ids[:1])
            noted = len(inside.captured_queries)
        assert noted == 0
    assert [_version(pk) for pk in ids] == [2, 2, 2]


def test_a_failed_block_bumps_nothing():
    pk = Customer.objects.create().pk

    def failing_batch():
        with bumped_once():
            bump_versions([pk])
            raise RuntimeError("the batch failed")

    with pytest.raises(RuntimeError):
        failing_batch()
    assert _version(pk) == 1


def test_update_rows_increments_in_the_same_statement():
    first, second = Customer.objects.create(city="Porto"), Customer.objects.create(city="Braga")
    first.city, second.city = "Lisboa", "Faro"
    with CaptureQueriesContext(connection) as queries:
        update_rows(Customer, [first, second], ["city"], increment=["version"])
    assert len(queries.captured_queries) == 1
    assert list(Customer.objects.order_by("pk").values_list("city", "version")) == [
        ("Lisboa", 2),
        ("Faro", 2),
    ]


def test_a_stamp_moves_the_document_version_and_leaves_the_row_alone():
    known = Customer.objects.create(email="ines@example.pt")
    Customer.objects.filter(pk=known.pk).update(version=5)
    row = Customer.objects.values_list("version", "updated_at").get(pk=known.pk)
    bump_stamps([known.pk, known.pk, None])
    bump_stamps([known.pk])
    assert Customer.objects.values_list("version", "updated_at").get(pk=known.pk) == row
    assert ProfileStamp.objects.get(customer=known).stamp == 2
    assert document_versions([known.pk]) == {known.pk: 7}


def test_the_pointer_reads_the_stamp(django_assert_num_queries):
    source, _key = create_source(name="Shop (web)", kind="website")
    known = call(source, at=AT, user_id="cust-78").customer
    before = find_profile_pointer(type_name="user_id", value="cust-78").version
    bump_stamps_selected(select="SELECT %s AS customer_id", params=[known.pk])
    with django_assert_num_queries(1):
        pointer = find_profile_pointer(type_name="user_id", value="cust-78")
    assert pointer.version == before + 1 == document_versions([known.pk])[known.pk]


def test_stamps_inside_a_batch_fold_into_its_one_bump():
    ids = [Customer.objects.create().pk for _ in range(2)]
    with transaction.atomic(), bumped_once():
        bump_versions(ids[:1])
        bump_stamps(ids)
    assert [_version(pk) for pk in ids] == [2, 2]
    assert not ProfileStamp.objects.exists()


def test_a_deleted_profile_takes_its_stamp_along():
    gone, kept = Customer.objects.create(), Customer.objects.create()
    bump_stamps([gone.pk, kept.pk])
    Customer.objects.filter(pk=gone.pk).delete()
    assert list(ProfileStamp.objects.values_list("customer_id", flat=True)) == [kept.pk]


def test_a_merge_and_its_unmerge_only_ever_move_document_versions_up(resolve):
    """A stamp is its profile's own counter: a merge moving it to the
    survivor, and the unmerge moving it back, would take the survivor's
    document version down again, to a number a stale document may hold."""
    ann = resolve(("user_id", "u-1")).customer
    dup = resolve(("anonymous_id", "d-1")).customer
    bump_stamps([dup.pk, dup.pk])
    bump_stamps([dup.pk])
    seen = [document_versions([ann.pk])[ann.pk]]
    [merge] = merge_customers(survivor=ann, absorbed=[dup], reason=Merge.Reason.MANUAL)
    seen.append(document_versions([ann.pk])[ann.pk])
    unmerge(merge=merge)
    seen.append(document_versions([ann.pk])[ann.pk])
    assert seen == sorted(set(seen))
    assert ProfileStamp.objects.get(customer=dup).stamp == 2


def test_stamps_of_profiles_with_and_without_one_move_by_one_each_and_are_counted():
    ids = [Customer.objects.create().pk for _ in range(4)]
    bump_stamps(ids[:2])
    bump_stamps([ids[1]])

    moved = bump_stamps_selected(
        select=" UNION ALL ".join(["SELECT %s AS customer_id"] * 5),
        params=[ids[0], ids[1], ids[2], ids[2], ids[3]],
    )

    assert moved == 4
    assert dict(ProfileStamp.objects.values_list("customer_id", "stamp")) == {
        ids[0]: 2,
        ids[1]: 3,
        ids[2]: 1,
        ids[3]: 1,
    }


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_stamp_created_meanwhile_by_another_transaction_still_moves():
    """New stamps are a plain insert: when another transaction creates one of
    them first, the insert fails on the key and the bump runs again as an
    upsert, so the change moves that stamp too (1 from the other, 1 from us)."""
    import threading
    import time

    from django.db import connections

    pk = Customer.objects.create().pk
    created, errors = threading.Event(), []

    def other_writer():
        try:
            with transaction.atomic():
                ProfileStamp.objects.create(customer_id=pk, stamp=1)
                created.set()
                time.sleep(1.0)  # the bump below waits on the key meanwhile
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
            created.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert created.wait(timeout=10)
    with transaction.atomic():
        moved = bump_stamps_selected(select="SELECT %s::bigint AS customer_id", params=[pk])
    thread.join(timeout=30)

    assert errors == []
    assert moved == 1
    assert ProfileStamp.objects.get(customer_id=pk).stamp == 2
