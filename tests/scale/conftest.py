import pytest

from cdp_site.celery import app as celery_app
from tests.scale.workers import BROKER, KEY_PREFIX


@pytest.fixture
def celery_on_redis():
    """Publish this process's tasks to Redis instead of running them inline."""
    conf = celery_app.conf
    saved = (conf.broker_url, conf.task_always_eager, conf.broker_transport_options)
    conf.broker_url = BROKER
    conf.task_always_eager = False
    conf.broker_transport_options = {
        **conf.broker_transport_options,
        "visibility_timeout": 3,
        "global_keyprefix": KEY_PREFIX,
    }
    _reset_connections()
    yield
    conf.broker_url, conf.task_always_eager, conf.broker_transport_options = saved
    _reset_connections()


def _reset_connections() -> None:
    """Forget the app's pools so the next publish uses the current broker_url.

    The pools are kombu's process-wide ones, keyed by broker URL: closing them
    would break every later publish to the same URL (eager tasks acquire a
    producer too), so they are only dropped from the app, not closed.
    """
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
