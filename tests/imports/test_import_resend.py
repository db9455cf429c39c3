"""Batches a broker lost are sent again once a run stops moving; applied once either way.

kombu's Redis transport can drop a batch message when a worker is SIGKILLed
at the wrong instant (tests/scale/test_import_worker_kill.py does it with
real workers); here the batches are captured and one is simply never
delivered.
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from customers.models import Customer
from sources.imports.resend import resend_stalled_batches
from sources.imports.runner import run_import
from sources.models import ImportBatch, ImportJob
from sources.tasks import import_batch
from tests.imports.test_import_batches import job, sent  # noqa: F401 - the fixtures

STALLED = timedelta(minutes=10)


def _lose_batch_1(started: ImportJob, queued: list[dict]) -> list[dict]:
    """Start the run and deliver every batch but number 1; returns the lost one."""
    run_import(job_id=started.pk, dry_run=False)
    lost = [b for b in queued if b["number"] == 1]
    for batch in queued:
        if batch["number"] != 1:
            import_batch(**batch)
    queued.clear()
    return lost


def test_a_stalled_run_gets_its_missing_batch_again_and_ends(job, sent):  # noqa: F811
    lost = _lose_batch_1(job, sent)
    later = timezone.now() + STALLED

    assert resend_stalled_batches(stalled_after=STALLED, now=later) == {job.pk: [1]}

    assert [b["number"] for b in sent] == [1]
    assert sent[0]["rows"] == lost[0]["rows"]  # the same rows, read again from the file
    import_batch(**sent[0])
    job.refresh_from_db()
    assert (job.status, job.batches_done, job.rows_done, job.rows_new) == ("done", 3, 5, 3)
    assert Customer.objects.count() == 3


def test_a_run_still_moving_is_left_alone(job, sent):  # noqa: F811
    _lose_batch_1(job, sent)

    assert resend_stalled_batches(stalled_after=STALLED) == {}
    assert sent == []


def test_a_run_is_resent_once_per_stall(job, sent):  # noqa: F811
    _lose_batch_1(job, sent)
    later = timezone.now() + STALLED

    resend_stalled_batches(stalled_after=STALLED, now=later)
    assert resend_stalled_batches(stalled_after=STALLED, now=later) == {}
    assert len(sent) == 1
    # still not applied a whole period later: sent once more
    again = resend_stalled_batches(stalled_after=STALLED, now=later + STALLED)
    assert again == {job.pk: [1]}


def test_a_batch_only_slow_arrives_twice_and_counts_once(job, sent):  # noqa: F811
    lost = _lose_batch_1(job, sent)
    resend_stalled_batches(stalled_after=STALLED, now=timezone.now() + STALLED)

    import_batch(**sent[0])
    assert import_batch(**lost[0]) is None  # the original turns up after all
    job.refresh_from_db()
    assert (job.status, job.batches_done, job.rows_done) == ("done", 3, 5)
    assert ImportBatch.objects.filter(job=job).count() == 3


def test_a_stalled_run_whose_file_is_gone_fails_with_a_reason(job, sent):  # noqa: F811
    _lose_batch_1(job, sent)
    job.refresh_from_db()
    job.file.storage.delete(job.file.name)

    assert resend_stalled_batches(stalled_after=STALLED, now=timezone.now() + STALLED) == {}

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert "cannot be read again" in job.error


def test_previews_and_finished_runs_are_not_resent(job, sent):  # noqa: F811
    run_import(job_id=job.pk, dry_run=True)
    assert resend_stalled_batches(stalled_after=timedelta(0)) == {}
    run_import(job_id=job.pk, dry_run=False)
    for batch in sent:
        import_batch(**batch)
    sent.clear()
    assert resend_stalled_batches(stalled_after=timedelta(0)) == {}
    assert sent == []


def test_the_command_for_installs_without_beat(job, sent, capsys):  # noqa: F811
    _lose_batch_1(job, sent)

    call_command("resend_import_batches", "--stalled-after", "0")

    assert f"import job {job.pk}: sent 1 batch(es) again" in capsys.readouterr().out
    assert [b["number"] for b in sent] == [1]


@pytest.mark.django_db
def test_beat_runs_the_sweep_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["resend-import-batches"]
    assert (entry["task"], entry["schedule"]) == ("sources.tasks.resend_import_batches", 60)
