from django.core.management.base import BaseCommand

from backoffice.dashboard import forget_dashboard
from backoffice.stats import WINDOW_DAYS, fill_daily_stats


class Command(BaseCommand):
    help = "Write the dashboard's figures for closed days that lack them, then drop the cache."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=WINDOW_DAYS)

    def handle(self, *args, days, **options):
        written = fill_daily_stats(days=days)
        forget_dashboard()
        self.stdout.write(f"{written} days written")
