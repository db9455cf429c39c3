"""Sign-in tokens are stored as SHA-256 digests instead of in clear.

DRF's ``rest_framework.authtoken`` kept each token's key in clear; it is no
longer installed. Where its table still exists (an install that had it),
every token becomes an ``AuthToken`` holding the digest of the same key, so
integrations signed in with ``Authorization: Token <key>`` keep working, and
the clear keys are deleted (the emptied table is left in place). Running it
again finds nothing left to convert. Going back cannot restore clear keys:
people sign in again.
"""

import hashlib
from datetime import datetime, timezone as dt_timezone

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


LEGACY_TABLE = "authtoken_token"
PREFIX_LENGTH = 8
BATCH_SIZE = 500


def _aware(value):
    if isinstance(value, str):  # SQLite returns text from a raw cursor
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt_timezone.utc)
    return value


def convert_clear_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    AuthToken = apps.get_model("accounts", "AuthToken")
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote('key')}, {quote('user_id')}, {quote('created')} "
            f"FROM {quote(LEGACY_TABLE)}"
        )
        rows = cursor.fetchall()
        AuthToken.objects.using(connection.alias).bulk_create(
            [
                AuthToken(
                    user_id=user_id,
                    prefix=key[:PREFIX_LENGTH],
                    # the digest of accounts.services.api_keys.hash_key
                    digest=hashlib.sha256(key.encode("utf-8")).hexdigest(),
                    created_at=_aware(created),
                )
                for key, user_id, created in rows
            ],
            batch_size=BATCH_SIZE,
            ignore_conflicts=True,
        )
        cursor.execute(f"DELETE FROM {quote(LEGACY_TABLE)}")


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_apikey_history_actor'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuthToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('prefix', models.CharField(editable=False, max_length=16)),
                ('digest', models.CharField(editable=False, max_length=64, unique=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='auth_tokens', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'sign-in token',
                'ordering': ['-created_at'],
            },
        ),
        migrations.RunPython(convert_clear_tokens, migrations.RunPython.noop, elidable=False),
    ]
