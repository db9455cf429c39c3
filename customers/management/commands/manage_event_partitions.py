from django.conf import settings
from django.core.management.base import BaseCommand

from customers.partitions import (
    drop_expired_partitions,
    ensure_event_partitions,
    existing_partitions,
    is_partitioned,
)


class Command(BaseCommand):
    help = "PostgreSQL: create upcoming monthly event partitions and drop expired ones."

    def add_arguments(self, parser):
        parser.add_argument("--months-ahead", type=int, default=3)
        parser.add_argument("--months-back", type=int, default=1)
        parser.add_argument(
            "--retention-months",
            type=int,
            default=None,
            help="default: TRIBUTARY_EVENT_RETENTION_MONTHS (0 keeps everything)",
        )

    def handle(self, *args, months_ahead, months_back, retention_months, **options):
        if not is_partitioned():
            self.stdout.write("Events table is not partitioned (SQLite); nothing to do.")
            return
        retention = (
            settings.TRIBUTARY_EVENT_RETENTION_MONTHS
            if retention_months is None
            else retention_months
        )
        created = ensure_event_partitions(months_back=months_back, months_ahead=months_ahead)
        dropped = drop_expired_partitions(retention_months=retention)
        for name in created.created:
            self.stdout.write(f"created {name}")
        for name in dropped.dropped:
            self.stdout.write(f"dropped {name}")
        self.stdout.write(f"{len(existing_partitions())} event partitions")
