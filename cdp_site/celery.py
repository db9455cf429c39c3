"""The Celery app: configured from Django settings (CELERY_* names)."""

import gc
import os

from celery import Celery
from celery.signals import setup_logging, worker_init, worker_process_init

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


@worker_init.connect
@worker_process_init.connect
def freeze_startup_heap(**kwargs) -> None:
    """Leave what the worker loaded at startup out of garbage collection.

    Modules, Django's app registry, pandas, scikit-learn and phone-number
    metadata live as long as the process, yet every full collection walks
    them all again: in an import batch that was a quarter of the CPU time.
    ``gc.freeze`` moves them to the permanent generation (still freed by
    reference counting); the parent freezes before it forks, so the children
    also keep sharing those pages, and each child freezes what it adds.
    """
    gc.collect()
    gc.freeze()
