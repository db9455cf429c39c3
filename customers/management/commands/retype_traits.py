"""manage.py retype_traits NAME --as number|boolean|date [--date-order DMY|MDY] [--dry-run]

Converts the stored values of custom trait NAME (text such as "512.10",
"yes", "3/14/1985") to JSON numbers, booleans or YYYY-MM-DD dates, prints
the counts and lists, one a line, the profiles whose value could not be
converted (left as they are). Segments pick the new values up at their next
recompute (``manage.py recompute_segments`` to do it now).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from core.audit import acting_as
from customers.services.retype import TYPES, retype_trait


class Command(BaseCommand):
    help = "Convert a custom trait's stored values to number, boolean or date."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the custom trait, e.g. total_spent")
        parser.add_argument("--as", dest="as_type", choices=TYPES, required=True)
        parser.add_argument(
            "--date-order", choices=("DMY", "MDY"), default="", help="for a/b/yyyy dates"
        )
        parser.add_argument("--dry-run", action="store_true", help="count and list; write nothing")

    def handle(self, *args, name, as_type, date_order, dry_run, **options):
        with acting_as("command: retype_traits"):
            result = retype_trait(
                name=name, as_type=as_type, dry_run=dry_run, date_order=date_order
            )
        verb = "would convert" if dry_run else "converted"
        self.stdout.write(
            f"trait {name} as {as_type}: {verb} {result.converted}, "
            f"already {as_type} {result.already}, cannot convert {len(result.failed)}"
        )
        for customer_id, value in result.failed:
            self.stdout.write(f"  customer {customer_id}: {value!r}")
