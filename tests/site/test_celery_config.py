import pytest

from cdp_site.celery import app


@pytest.mark.parametrize(
    ("task_name", "queue"),
    [
        ("sources.tasks.process_intake_batch", "ingest"),
        ("sources.tasks.run_import_job", "imports"),
        ("sources.tasks.import_batch", "imports"),
        ("segments.tasks.recompute_segment", "segments"),
        ("destinations.tasks.send_delivery", "deliveries"),
        ("consent.tasks.fulfil_privacy_request", "privacy"),
        ("customers.tasks.anything_else", "default"),
    ],
)
def test_each_kind_of_work_has_its_own_queue(task_name, queue):
    route = app.amqp.router.route({}, task_name)
    assert route["queue"].name == queue


def test_tasks_are_acknowledged_late_so_a_killed_worker_loses_nothing():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True


def test_embedded_default_runs_tasks_inline(settings):
    assert app.conf.task_always_eager is (not settings.CELERY_BROKER_URL)
