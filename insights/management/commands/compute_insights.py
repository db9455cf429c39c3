"""RFM, lifecycle stages, scoring plans and prediction scores, for setups
without Celery beat (or on demand)."""

import time

from django.core.management.base import BaseCommand

from insights.services import daily, purchases


class Command(BaseCommand):
    help = "Recompute RFM, lifecycle stages, scores and predictions of every profile."

    def add_arguments(self, parser):
        parser.add_argument(
            "--every",
            type=float,
            default=0,
            help="Keep running, one round every N seconds (default: one round, then exit). "
            "Purchases that arrive in between are placed at once.",
        )

    def handle(self, *args, every, **options):
        while True:
            for line in daily.compute_insights().lines():
                self.stdout.write(line)
            if not every:
                return
            deadline = time.monotonic() + every
            while time.monotonic() < deadline:
                while purchases.follow_purchases().entries:
                    pass
                time.sleep(min(60.0, max(0.0, deadline - time.monotonic())))
