"""Advisory locks (core.db.locks): namespaced, sorted, only inside a transaction."""

import pytest
from django.db import transaction

from core.db.locks import LockOutsideTransaction, lock, lock_key, try_lock
from tests.sources.peers import other_connection


def test_lock_refuses_to_run_outside_a_transaction():
    # no database access allowed here: pytest-django's connection is in autocommit
    with pytest.raises(LockOutsideTransaction):
        lock("identity", ["email:ann@example.com"])
    with pytest.raises(LockOutsideTransaction):
        try_lock("identity", ["email:ann@example.com"])


@pytest.mark.django_db
def test_lock_runs_inside_a_transaction():
    with transaction.atomic():
        lock("identity", ["email:ann@example.com", "phone:+33612345678"])
        assert try_lock("identity", ["email:ann@example.com"]) == set()


def test_namespaces_give_different_keys_for_the_same_name():
    assert lock_key("identity", "42") != lock_key("imports", "42")
    assert lock_key("identity", "42") == lock_key("identity", "42")


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_try_lock_reports_names_another_transaction_holds():
    other = other_connection(autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [lock_key("identity", "email:ann@x.org")])
        with transaction.atomic():
            busy = try_lock("identity", ["email:ann@x.org", "email:bob@x.org"])
        assert busy == {"email:ann@x.org"}
    finally:
        other.close()
