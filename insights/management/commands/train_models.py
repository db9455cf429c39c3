"""Train, validate and (if they pass) publish the predictive models."""

import time

from django.core.management.base import BaseCommand

from insights.services import predictions


class Command(BaseCommand):
    help = "Train the predictive models; publish and score those that beat the baseline."

    def add_arguments(self, parser):
        parser.add_argument(
            "--every",
            type=float,
            default=0,
            help="Keep running, one round every N seconds (default: one round, then exit).",
        )

    def handle(self, *args, every, **options):
        while True:
            for report in predictions.train_all():
                auc = "-" if report.auc is None else f"{report.auc:.3f}"
                base = "-" if report.baseline_auc is None else f"{report.baseline_auc:.3f}"
                verdict = "published" if report.published else "rejected"
                self.stdout.write(
                    f"{report.target}: model #{report.model_id} {verdict} (AUC {auc}, "
                    f"baseline {base}; {report.reason}); scored {report.scored} profiles "
                    f"in {report.seconds:.1f} s"
                )
            if not every:
                return
            time.sleep(every)
