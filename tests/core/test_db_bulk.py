"""Database helpers of the hot write paths, on both databases."""

from datetime import date

import pytest
from django.db import connection, transaction

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
