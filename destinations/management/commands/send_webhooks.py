"""Dispatch the outbox and run due retries, for setups without Celery beat."""

import time

from django.core.management.base import BaseCommand

from destinations import tasks


class Command(BaseCommand):
    help = "Turn pending outbox entries into webhook deliveries and send what is due."

    def add_arguments(self, parser):
        parser.add_argument(
            "--every",
            type=float,
            default=0,
            help="Keep running, one round every N seconds (default: one round, then exit).",
        )

    def handle(self, *args, every, **options):
        while True:
            entries = 0
            while batch := tasks.dispatch_outbox():
                entries += batch
            retried = tasks.retry_due()
            self.stdout.write(f"dispatched {entries} outbox entries, sent {retried} due retries")
            if not every:
                return
            time.sleep(every)
