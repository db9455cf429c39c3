"""Database helpers of the hot write paths, on both databases."""

from datetime import UTC, date, datetime

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core.db.bulk import commit_asynchronously, update_rows
from customers.models import Customer


def test_update_rows_writes_each_objects_own_values(db):
    ann, bob, untouched = (
        Customer.objects.create(email=f"{name}@example.com", traits={"n": 0})
        for name in ("ann", "bob", "cy")
    )
    ann.first_name, ann.traits, ann.birthday = "Ann", {"plan": "pro", "tags": ["a"]}, None
    bob.first_name, bob.traits = "Bob's", {"plan": None}
    bob.birthday = date(1990, 2, 28)

    update_rows(Customer, [ann, bob], ["first_name", "traits", "birthday"])

    rows = {c.pk: c for c in Customer.objects.all()}
    assert (rows[ann.pk].first_name, rows[ann.pk].traits) == ("Ann", {"plan": "pro", "tags": ["a"]})
    assert (rows[bob.pk].first_name, rows[bob.pk].traits) == ("Bob's", {"plan": None})
    assert str(rows[bob.pk].birthday) == "1990-02-28"
    assert (rows[untouched.pk].first_name, rows[untouched.pk].traits) == ("", {"n": 0})


def test_update_rows_keeps_awkward_values_apart_and_increments(db):
    awkward = ["a,b", 'say "hi"', "back\\slash", "{braces}", "NULL", "", "ünï 😀", "it's"]
    customers = [Customer.objects.create(traits={"n": 0}) for _ in awkward]
    seen = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    for customer, text in zip(customers, awkward, strict=True):
        customer.first_name = text
        customer.traits = {"text": text, "nested": {"list": [text, None, 1.5]}}
        customer.is_identified = text == "NULL"
        customer.last_seen = seen
        customer.merged_into_id = None
        customer.birthday = None  # a column whose values are all NULL

    update_rows(
        Customer,
        customers,
        ["first_name", "traits", "is_identified", "last_seen", "merged_into", "birthday"],
        increment=["version"],
    )

    rows = {c.pk: c for c in Customer.objects.all()}
    for customer, text in zip(customers, awkward, strict=True):
        row = rows[customer.pk]
        assert row.first_name == text
        assert row.traits == {"text": text, "nested": {"list": [text, None, 1.5]}}
        assert row.is_identified is (text == "NULL")
        assert (row.last_seen, row.birthday, row.merged_into_id) == (seen, None, None)
        assert row.version == customer.version + 1


def test_update_rows_writes_a_thousand_profiles_in_one_statement(db):
    customers = Customer.objects.bulk_create(Customer() for _ in range(1000))
    for number, customer in enumerate(customers):
        customer.city = f"city {number}"

    with CaptureQueriesContext(connection) as queries:
        update_rows(Customer, customers, ["city"], increment=["version"])

    assert len(queries) == 1
    cities = dict(Customer.objects.values_list("pk", "city"))
    assert cities == {c.pk: c.city for c in customers}


@pytest.mark.postgres_only
def test_update_rows_sends_one_array_per_column_on_postgresql(db):
    customers = Customer.objects.bulk_create(Customer() for _ in range(3))
    for customer in customers:
        customer.first_name = "Ann"

    with CaptureQueriesContext(connection) as queries:
        update_rows(Customer, customers, ["first_name", "traits"])

    sql = queries[0]["sql"]
    assert "unnest(" in sql
    assert "VALUES" not in sql
    assert Customer.objects.filter(first_name="Ann").count() == 3


@pytest.mark.postgres_only
# serialized_rollback: the flush after a transactional test must not re-run
# post_migrate (role groups), or later serialized-rollback tests collide with it
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_asynchronous_commit_is_scoped_to_the_transaction():
    def setting() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    before = setting()
    with transaction.atomic():
        commit_asynchronously()
        assert setting() == "off"
    assert setting() == before != "off"
