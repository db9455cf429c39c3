"""manage.py purge_intake [--days N]: delete old processed and refused tracking calls."""

from django.conf import settings
from django.core.management.base import BaseCommand

from sources.services.retention import purge_intake


class Command(BaseCommand):
    help = "Delete processed and rejected tracking calls older than the retention period."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="default: TRIBUTARY_INTAKE_RETENTION_DAYS (0 keeps everything)",
        )

    def handle(self, *args, days, **options):
        days = settings.TRIBUTARY_INTAKE_RETENTION_DAYS if days is None else days
        purged = purge_intake(older_than_days=days)
        self.stdout.write(
            f"deleted {purged.intake} processed and {purged.rejected} rejected calls "
            f"older than {days} days"
        )
