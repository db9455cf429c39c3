"""Celery workers leave their startup heap out of garbage collection."""

from __future__ import annotations

import gc

from celery.signals import worker_init, worker_process_init

from cdp_site.celery import freeze_startup_heap


def test_worker_start_freezes_the_heap_loaded_so_far():
    gc.unfreeze()
    try:
        worker_process_init.send(sender=None)
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # Django, the apps and their libraries
        survivors = gc.get_count()
        assert sum(survivors) < frozen
    finally:
        gc.unfreeze()


def test_both_the_parent_and_each_child_freeze():
    receivers = [r for _, r in worker_init.receivers] + [
        r for _, r in worker_process_init.receivers
    ]
    names = [getattr(r(), "__name__", "") for r in receivers if callable(r)]
    assert names.count(freeze_startup_heap.__name__) == 2
