"""Set-at-a-time helpers (``core.db.sets``) and the outbox writer fed by them, on both databases."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from core.db.sets import bulk_planning, create_id_table, drop_tables, id_batches, keep_returned
from core.models import OutboxEntry
from core.outbox import Topic, emit_for_selected
from customers.models import Customer

AT = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)


@pytest.fixture
def people(db):
    return [
        Customer.objects.create(first_name=name, country=country)
        for name, country in (("Zoé", "FR"), ("Jürgen", "DE"), ("Ann", "DE"), ("Åsa", "SE"))
    ]


def ids_in(cursor, table: str) -> list[int]:
    cursor.execute(f"SELECT customer_id FROM {table} ORDER BY customer_id")  # noqa: S608
    return [row[0] for row in cursor.fetchall()]


def test_id_table_is_filled_from_a_select_and_replaced_when_created_again(people):
    zoe, jurgen, ann, _asa = people
    with connection.cursor() as cursor:
        create_id_table(
            cursor, "probe_ids", "SELECT id FROM customers_customer WHERE country = %s", ["DE"]
        )
        assert ids_in(cursor, "probe_ids") == sorted([jurgen.pk, ann.pk])
        create_id_table(
            cursor, "probe_ids", "SELECT id FROM customers_customer WHERE id = %s", [zoe.pk]
        )
        assert ids_in(cursor, "probe_ids") == [zoe.pk]
        drop_tables(cursor, "probe_ids")


def test_keep_returned_keeps_only_the_rows_the_statement_changed(people):
    zoe, jurgen, ann, asa = people
    Customer.objects.filter(pk=ann.pk).update(company="ACME")
    with connection.cursor() as cursor:
        create_id_table(cursor, "probe_changed")
        changed = keep_returned(
            cursor,
            "UPDATE customers_customer SET company = %s WHERE country = %s AND company = '' "
            "RETURNING id",
            ["Tributary", "DE"],
            "probe_changed",
        )
        assert changed == 1
        assert ids_in(cursor, "probe_changed") == [jurgen.pk]
        drop_tables(cursor, "probe_changed")
    assert {c.pk for c in Customer.objects.filter(company="")} == {zoe.pk, asa.pk}


def test_emit_for_selected_writes_one_entry_per_selected_profile_in_id_order(people):
    zoe, _jurgen, ann, asa = people
    payload = {"segment_id": 7, "segment": "Nordics & Gauls", "at": AT.isoformat()}

    count = emit_for_selected(
        topic=Topic.SEGMENT_EXITED,
        select="SELECT id AS customer_id FROM customers_customer WHERE country <> %s",
        params=["DE"],
        payload=payload,
        created_at=AT,
    )

    assert count == 2
    entries = list(OutboxEntry.objects.order_by("pk"))
    assert [(e.topic, e.customer_id, e.created_at) for e in entries] == [
        (Topic.SEGMENT_EXITED, pk, AT) for pk in sorted([zoe.pk, asa.pk])
    ]
    assert [e.payload for e in entries] == [
        {**payload, "customer_id": pk} for pk in sorted([zoe.pk, asa.pk])
    ]
    assert ann.pk not in {e.customer_id for e in entries}


def test_emit_for_selected_with_nothing_selected_writes_nothing(people):
    count = emit_for_selected(
        topic=Topic.SEGMENT_ENTERED,
        select="SELECT id AS customer_id FROM customers_customer WHERE country = %s",
        params=["JP"],
        payload={},
        created_at=AT,
    )
    assert (count, OutboxEntry.objects.count()) == (0, 0)


@pytest.mark.postgres_only
def test_bulk_planning_is_undone_after_the_block(db):
    def settings(cursor) -> tuple[str, str, str]:
        values = []
        for name in ("enable_nestloop", "work_mem", "jit"):
            cursor.execute(f"SHOW {name}")
            values.append(cursor.fetchone()[0])
        return tuple(values)

    with connection.cursor() as cursor:
        before = settings(cursor)
        with bulk_planning(cursor):
            assert settings(cursor) == ("off", "64MB", "off")
        assert settings(cursor) == before
        with pytest.raises(RuntimeError), bulk_planning(cursor):
            raise RuntimeError("a failed statement")
        assert settings(cursor) == before


def test_id_batches_cover_every_id_once_and_nothing_for_none(people):
    ids = sorted(c.pk for c in people)[:3]
    found = [
        pk
        for batch in id_batches(ids, size=2)
        for pk in Customer.objects.filter(pk__in=batch).values_list("pk", flat=True)
    ]
    assert sorted(found) == ids
    assert list(id_batches([])) == []
