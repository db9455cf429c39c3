"""manage.py resend_import_batches [--every SECONDS] [--stalled-after SECONDS]:
send again the batches of stalled import runs (the beat task, for installs without beat)."""

import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from sources.imports.resend import resend_stalled_batches


class Command(BaseCommand):
    help = "Send again the batches a broker lost, for imports that stopped making progress."

    def add_arguments(self, parser):
        parser.add_argument(
            "--every",
            type=float,
            default=0,
            help="Keep running, one round every N seconds (default: one round, then exit).",
        )
        parser.add_argument(
            "--stalled-after",
            type=float,
            default=None,
            help="seconds without progress (default: TRIBUTARY_IMPORT_STALL_SECONDS)",
        )

    def handle(self, *args, every, stalled_after, **options):
        seconds = stalled_after
        if seconds is None:
            seconds = settings.TRIBUTARY_IMPORT_STALL_SECONDS
        while True:
            resent = resend_stalled_batches(stalled_after=timedelta(seconds=seconds))
            for job_id, numbers in resent.items():
                self.stdout.write(f"import job {job_id}: sent {len(numbers)} batch(es) again")
            if not resent:
                self.stdout.write("no stalled import")
            if not every:
                return
            time.sleep(every)
