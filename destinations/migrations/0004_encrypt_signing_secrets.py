"""Webhook signing secrets are stored encrypted (core.crypto) instead of in clear.

The columns become text, the stored secrets are encrypted in place (batched;
a value that already decrypts is left alone, so running it again is
harmless), then the columns are declared encrypted. Reversible: going back
decrypts them. Signing keeps working throughout, since the secret itself
does not change.
"""

from django.db import migrations, models

import core.fields
from core import crypto

SECRET_FIELDS = ("secret", "previous_secret")
BATCH_SIZE = 500


def _is_encrypted(value):
    try:
        crypto.decrypt(value)
    except crypto.DecryptionError:
        return False
    return True


def _convert(apps, schema_editor, *, forwards):
    Destination = apps.get_model("destinations", "Destination")
    rows = Destination.objects.using(schema_editor.connection.alias)
    pks = list(rows.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pks), BATCH_SIZE):
        batch = rows.filter(pk__in=pks[start : start + BATCH_SIZE])
        for pk, *values in batch.values_list("pk", *SECRET_FIELDS):
            changed = {}
            for name, value in zip(SECRET_FIELDS, values):
                if not value or _is_encrypted(value) == forwards:
                    continue
                changed[name] = crypto.encrypt(value) if forwards else crypto.decrypt(value)
            if changed:
                rows.filter(pk=pk).update(**changed)


def encrypt_secrets(apps, schema_editor):
    _convert(apps, schema_editor, forwards=True)


def decrypt_secrets(apps, schema_editor):
    _convert(apps, schema_editor, forwards=False)


class Migration(migrations.Migration):

    dependencies = [
        ("destinations", "0003_destination_segments"),
    ]

    operations = [
        migrations.AlterField(
            model_name="destination",
            name="secret",
            field=models.TextField(editable=False),
        ),
        migrations.AlterField(
            model_name="destination",
            name="previous_secret",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.RunPython(encrypt_secrets, decrypt_secrets, elidable=False),
        migrations.AlterField(
            model_name="destination",
            name="secret",
            field=core.fields.EncryptedTextField(editable=False),
        ),
        migrations.AlterField(
            model_name="destination",
            name="previous_secret",
            field=core.fields.EncryptedTextField(blank=True, editable=False),
        ),
    ]
