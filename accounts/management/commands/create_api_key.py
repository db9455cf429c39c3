from django.core.management.base import BaseCommand, CommandError

from accounts.scopes import SCOPES
from accounts.services.api_keys import InvalidScopes, create_api_key


class Command(BaseCommand):
    help = "Create an API key and print it alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--scope",
            action="append",
            default=[],
            dest="scopes",
            help=f"a scope to grant, repeatable; one of: {', '.join(SCOPES)}",
        )
        parser.add_argument("--all-scopes", action="store_true", help="grant every scope")

    def handle(self, *args, name, scopes, all_scopes, **options):
        if all_scopes:
            scopes = list(SCOPES)
        if not scopes:
            raise CommandError("give at least one --scope S, or --all-scopes")
        try:
            api_key, key = create_api_key(name=name, scopes=scopes)
        except InvalidScopes as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Created API key {api_key.name!r} (id {api_key.pk}, prefix {api_key.prefix}) "
            f"with scopes: {', '.join(api_key.scopes)}."
        )
        self.stdout.write("The key is shown only now; store it safely:")
        self.stdout.write(key)
