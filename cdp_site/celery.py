"""The Celery app: configured from Django settings (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import setup_logging, worker_init, worker_process_init

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
