from django.core.management.base import BaseCommand

from customers.models import Customer
from sources.demo.generate import seed_demo


class Command(BaseCommand):
    help = "Create realistic synthetic customers, identities and events from several sources."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when customers already exist"
        )

    def handle(self, *args, customers, seed, if_empty, **options):
        if if_empty and Customer.objects.exists():
            self.stdout.write("Demo data already present; nothing to do.")
            return
        report = seed_demo(customers=customers, seed=seed)
        self.stdout.write(
            f"Created {report.customers} customers, {report.identities} identities, "
            f"{report.events} events."
        )
        for name, key in report.new_source_keys.items():
            self.stdout.write(f"  write key for source {name!r}: {key}")
