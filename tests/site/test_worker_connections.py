"""Celery workers keep their database connection between tasks, but not a broken or old one."""

import pytest
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import task_postrun, task_prerun
from django.db import connections

from cdp_site.celery import app
from sources.tasks import process_intake


@pytest.fixture
def connection():
    return connections["default"]


@pytest.fixture
def closes(connection, monkeypatch):
    """The open connection, made persistent (no CONN_MAX_AGE); returns the list
    its ``close`` calls are recorded in (they still close it)."""
    connection.ensure_connection()
    monkeypatch.setattr(connection, "close_at", None)
    calls = []
    real_close = connection.close

    def close():
        calls.append(1)
        real_close()

    monkeypatch.setattr(connection, "close", close)
    return calls


# transactional (a worker's connection is in autocommit mode, not in a test's
# transaction); serialized_rollback: the flush after a transactional test must
# not re-run post_migrate (role groups), or later serialized-rollback tests collide with it
TRANSACTIONAL = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def run_task_hooks(fixup: DjangoWorkerFixup) -> None:
    """What a worker does around one task: Celery's Django fix-up, then the
    project's own handlers of the same signals."""
    task = process_intake
    fixup.on_task_prerun(sender=task)
    task_prerun.send(sender=task, task_id="t", task=task, args=(), kwargs={})
    fixup.on_task_postrun(sender=task)
    task_postrun.send(sender=task, task_id="t", task=task, args=(), kwargs={})


@TRANSACTIONAL
def test_worker_keeps_its_database_connection_from_task_to_task(closes):
    fixup = DjangoWorkerFixup(app)
    for _ in range(50):
        run_task_hooks(fixup)
    assert closes == []


@TRANSACTIONAL
def test_worker_recycles_its_connections_every_thousand_tasks(closes):
    fixup = DjangoWorkerFixup(app)
    for _ in range(1001):
        run_task_hooks(fixup)
    assert len(closes) == 1


@TRANSACTIONAL
def test_worker_drops_a_broken_connection_after_its_task(connection, closes, monkeypatch):
    fixup = DjangoWorkerFixup(app)
    run_task_hooks(fixup)
    monkeypatch.setattr(connection, "errors_occurred", True)
    monkeypatch.setattr(connection, "is_usable", lambda: False)
    run_task_hooks(fixup)
    assert closes


@TRANSACTIONAL
def test_worker_drops_a_connection_older_than_conn_max_age(connection, closes, monkeypatch):
    fixup = DjangoWorkerFixup(app)
    monkeypatch.setattr(connection, "close_at", 0)
    run_task_hooks(fixup)
    assert closes
