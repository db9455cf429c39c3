"""The Celery app: configured from Django settings (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import (
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
)
from django.db import close_old_connections

from core.processes import freeze_startup_heap

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp_site.settings")

app = Celery("tributary")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def use_django_logging(loglevel=None, **kwargs) -> None:
    """Workers log through ``settings.LOGGING``, so its redaction filter applies.

    Connecting this signal stops Celery from installing handlers of its own
    (which would write task tracebacks, personal data included, unfiltered).
    The worker's ``--loglevel`` still sets the level.
    """
    import logging
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)


# the parent freezes before it forks (the children keep sharing those pages),
# each child what it adds
worker_init.connect(freeze_startup_heap)
worker_process_init.connect(freeze_startup_heap)


@task_prerun.connect
@task_postrun.connect
def drop_unusable_connections(sender=None, **kwargs) -> None:
    """Before and after each task, close the database connections that broke or
    outlived ``CONN_MAX_AGE``, as Django does around each request.

    Celery's Django fix-up would close every connection around every task
    (a new PostgreSQL backend per 100-call batch); with ``CELERY_DB_REUSE_MAX``
    set it keeps them and closes them only every that many tasks, and this
    keeps a failed or stale one from reaching the next task. Tasks run inline
    (eager) are part of a request or a test and keep theirs.
    """
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()
