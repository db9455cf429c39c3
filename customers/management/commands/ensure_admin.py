import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the admin superuser if missing (or reset its password) and print the login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default=None, help="default: a new random password")
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000/admin/", help="the admin's address, printed"
        )

    def handle(self, *args, username, password, url, **options):
        user_model = get_user_model()
        password = password or secrets.token_urlsafe(12)
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.is_staff = True
        user.is_superuser = True
        user.set_password(password)
        user.save()
        verb = "Created" if created else "Reset password of"
        self.stdout.write(f"{verb} admin user. Log in at {url} with")
        self.stdout.write(f"  username: {username}")
        self.stdout.write(f"  password: {password}")
