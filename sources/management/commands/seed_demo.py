from django.core.management.base import BaseCommand

from customers.models import Customer
from sources.demo.generate import DEMO_SOURCE_PURPOSES, seed_demo


class Command(BaseCommand):
    help = "Create realistic synthetic customers, identities and events from several sources."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when customers already exist"
        )
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="where the server listens, for the printed curl examples",
        )

    def handle(self, *args, customers, seed, if_empty, base_url, **options):
        if if_empty and Customer.objects.exists():
            self.stdout.write("Demo data already present; nothing to do.")
            return
        report = seed_demo(customers=customers, seed=seed)
        self.stdout.write(
            f"Created {report.customers} customers, {report.identities} identities, "
            f"{report.events} events."
        )
        if report.new_source_keys:
            self.stdout.write(
                "Demo sources: send tracking calls with a source's write key as the "
                "HTTP Basic user name (shown once; rotate it in the admin)."
            )
        base_url = base_url.rstrip("/")
        for name, key in report.new_source_keys.items():
            self.stdout.write(f"  {name}: {DEMO_SOURCE_PURPOSES[name]}")
            self.stdout.write(f"    write key: {key}")
            self.stdout.write(
                f"    curl -u '{key}:' -H 'Content-Type: application/json' "
                f'{base_url}/v1/track -d \'{{"userId": "u-1", "event": "Tried it"}}\''
            )
        if "Website" in report.new_source_keys:
            self.stdout.write(
                f"Personalization demo: {base_url}/demo/personalize/ (paste the Website key)"
            )
