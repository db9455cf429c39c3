"""Re-encrypt every stored secret with the newest key of TRIBUTARY_ENCRYPTION_KEYS."""

from django.core.management.base import BaseCommand, CommandError

from core.crypto import DecryptionError
from core.fields import rotate_stored_secrets


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first key of TRIBUTARY_ENCRYPTION_KEYS. "
        "Put the new key first (keep the old ones after it), restart, run this, then drop "
        "the old keys. Safe to run again."
    )

    def handle(self, *args, **options):
        try:
            counts = rotate_stored_secrets()
        except DecryptionError as exc:
            raise CommandError(str(exc)) from None
        for label, count in counts.items():
            self.stdout.write(f"{label}: {count} re-encrypted")
        self.stdout.write(f"{sum(counts.values())} secret(s) re-encrypted with the newest key")
