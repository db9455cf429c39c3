"""manage.py purge_uploads [--every SECONDS]: delete uploads no import job refers to.

The same as the hourly beat task, for installs without a broker.
"""

import time

from django.core.management.base import BaseCommand

from sources import tasks


class Command(BaseCommand):
    help = "Delete uploaded import files that have no import job and are over an hour old."

    def add_arguments(self, parser):
        parser.add_argument(
            "--every",
            type=float,
            default=0,
            help="Keep running, one round every N seconds (default: one round, then exit).",
        )

    def handle(self, *args, every, **options):
        while True:
            removed = tasks.purge_orphan_uploads()
            self.stdout.write(f"deleted {removed} upload(s) without an import job")
            if not every:
                return
            time.sleep(every)
