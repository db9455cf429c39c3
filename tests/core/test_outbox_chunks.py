"""Outbox chunks (``core.outbox``): many profile ids in one entry, written and erased,
on both databases."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from core import outbox
from core.models import OutboxEntry
from core.outbox import Topic, emit_chunks_for_selected, entry_customer_ids, remove_from_chunks

AT = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)


def ids_select(ids: list[int]) -> tuple[str, list]:
    values = " UNION ALL ".join(["SELECT %s AS customer_id"] * len(ids))
    if connection.vendor == "postgresql":
        values = values.replace("%s", "%s::bigint")
    return values, list(ids)


def chunk(ids: list[int], topic: str = Topic.SEGMENT_ENTERED) -> OutboxEntry:
    return OutboxEntry.objects.create(
        topic=topic, payload={"segment_id": 1, "customer_ids": ids}, created_at=AT
    )


@pytest.mark.django_db
def test_chunks_hold_ascending_ids_up_to_the_chunk_size(monkeypatch):
    monkeypatch.setattr(outbox, "CHUNK_SIZE", 3)
    select, params = ids_select([9, 2, 7, 4, 1, 30, 12])

    written = emit_chunks_for_selected(
        topic=Topic.SEGMENT_ENTERED,
        select=select,
        params=params,
        payload={"segment_id": 5, "segment": "S", "at": AT.isoformat()},
        created_at=AT,
    )

    entries = list(OutboxEntry.objects.order_by("pk"))
    assert written == 3
    assert [(e.customer_id, entry_customer_ids(e)) for e in entries] == [
        (None, [1, 2, 4]),
        (None, [7, 9, 12]),
        (None, [30]),
    ]
    assert {e.payload["segment"] for e in entries} == {"S"}
    assert {e.created_at for e in entries} == {AT}


@pytest.mark.django_db
def test_removing_an_id_leaves_ids_that_share_its_digits():
    sharing = chunk([1, 12, 112, 121, 1212, 2121])
    other_topic = chunk([12, 13], topic=Topic.SEGMENT_EXITED)
    without = chunk([3, 120, 212])

    changed = remove_from_chunks(topic=Topic.SEGMENT_ENTERED, customer_ids=[12])

    assert changed == 1
    sharing.refresh_from_db()
    assert sharing.payload == {"segment_id": 1, "customer_ids": [1, 112, 121, 1212, 2121]}
    other_topic.refresh_from_db()
    without.refresh_from_db()
    assert other_topic.payload["customer_ids"] == [12, 13]
    assert without.payload["customer_ids"] == [3, 120, 212]


@pytest.mark.django_db
def test_a_chunk_left_empty_is_deleted_and_others_keep_theirs():
    only = chunk([42])
    both = chunk([42, 43])

    changed = remove_from_chunks(topic=Topic.SEGMENT_ENTERED, customer_ids=[42, 7])

    assert changed == 2
    assert not OutboxEntry.objects.filter(pk=only.pk).exists()
    both.refresh_from_db()
    assert both.payload["customer_ids"] == [43]


@pytest.mark.django_db
def test_a_one_profile_entry_names_its_customer_and_a_chunk_its_ids():
    assert entry_customer_ids(OutboxEntry(topic=Topic.TRACK, payload={})) == []
    assert entry_customer_ids(chunk([5, 6])) == [5, 6]
    assert not outbox.is_chunk(OutboxEntry(topic=Topic.TRACK, payload={"customer_id": 3}))
