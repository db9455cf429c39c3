"""Send again the import batches a broker lost.

Batch tasks are acknowledged only once their transaction has committed
(``acks_late``), yet kombu's Redis transport can lose a message when a
worker is SIGKILLed between taking it off the queue and recording it as
unacknowledged: the job would then wait at n-1 of n batches forever. The
rows travel in the messages, not in the database, but the file is kept:
a running job that has applied no batch for ``stalled_after`` (and was not
re-sent within it) has its file read again with the same plan, and the
batches it has not applied are sent again. A batch that was only slow (still
queued behind others) is then delivered twice and applied once
(``ImportBatch``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import Max
from django.utils import timezone

from sources.imports.batches import finish_if_complete
from sources.imports.jobs import fail_job
from sources.imports.reading import ImportFileError
from sources.imports.runner import local_file, planned, send_batches
from sources.models import ImportJob

logger = logging.getLogger(__name__)


def resend_stalled_batches(
    *, stalled_after: timedelta, now: datetime | None = None
) -> dict[int, list[int]]:
    """Re-send the missing batches of every stalled import run; returns
    the batch numbers sent again, per job."""
    now = now or timezone.now()
    resent: dict[int, list[int]] = {}
    running = ImportJob.objects.filter(status=ImportJob.Status.RUNNING, dry_run=False)
    for job in running.select_related("source").annotate(last_applied=Max("batches__applied_at")):
        moved = max(t for t in (job.started_at, job.batches_resent_at, job.last_applied) if t)
        if now - moved < stalled_after:
            continue
        run = job.started_at.isoformat()
        missing = set(range(job.batches_total)) - set(job.batches.values_list("number", flat=True))
        if not missing:
            finish_if_complete(job_id=job.pk, run=run)
            continue
        # claimed by one sweeper only; a job started again meanwhile is left alone
        if not ImportJob.objects.filter(
            pk=job.pk,
            status=ImportJob.Status.RUNNING,
            started_at=job.started_at,
            batches_resent_at=job.batches_resent_at,
        ).update(batches_resent_at=now):
            continue
        logger.warning("import job %s: re-sending %d stalled batches", job.pk, len(missing))
        try:
            with local_file(job) as path:
                table, plan = planned(job, path)
                send_batches(job, plan.read(table.rows()), plan, only=missing)
        except (OSError, ImportFileError) as exc:
            fail_job(job=job, reason=f"batches were lost and the file cannot be read again: {exc}")
            continue
        resent[job.pk] = sorted(missing)
    return resent
