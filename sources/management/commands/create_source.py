from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from customers.models import Source
from sources.services.keys import create_source


class Command(BaseCommand):
    help = "Create a source and print its write key alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--kind", required=True, choices=Source.Kind.values)
        parser.add_argument("--description", default="")

    def handle(self, *args, name, kind, description, **options):
        try:
            source, key = create_source(name=name, kind=kind, description=description)
        except IntegrityError:
            raise CommandError(f"a source named {name!r} already exists") from None
        self.stdout.write(f"Created source {source.name!r} (kind {source.kind}, id {source.pk}).")
        self.stdout.write("Its write key is shown only now; store it safely:")
        self.stdout.write(key)
