"""``EncryptedTextField``: a text column stored encrypted with ``core.crypto``.

The model sees clear text; the database holds a Fernet token. Tokens differ
on every write, so the column cannot be searched: only ``isnull`` and
comparisons with the empty string are allowed. ``rotate_stored_secrets``
re-encrypts every such column with the newest key (``manage.py
rotate_encryption_key``).
"""

from __future__ import annotations

from django.apps import apps
from django.db import models, transaction
from django.db.models import TextField, Value
from django.db.models.functions import Cast
from django.db.models.lookups import Exact

from core import crypto

ROTATE_BATCH_SIZE = 500


class EncryptedTextField(models.TextField):
    description = "Text encrypted at rest (core.crypto)"

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return crypto.encrypt(value)

    def get_lookup(self, lookup_name):
        if lookup_name not in ("exact", "isnull"):
            return None  # an encrypted column cannot be searched
        return super().get_lookup(lookup_name)


@EncryptedTextField.register_lookup
class _BlankOnlyExact(Exact):
    """``secret=""`` works; comparing with a value would never match, so it is refused."""

    lookup_name = "exact"

    def get_prep_lookup(self):
        if self.rhs not in ("", None):
            raise ValueError("an encrypted field can only be compared with ''")
        return super().get_prep_lookup()


def encrypted_columns() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) stored encrypted, historical models included."""
    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]


def rotate_stored_secrets(*, batch_size: int = ROTATE_BATCH_SIZE) -> dict[str, int]:
    """Re-encrypt every stored value that is not under the newest key yet.

    Safe to run again (values already under the newest key are left alone)
    and batched, one transaction per batch. Returns, per ``app.Model.field``,
    how many values were re-encrypted. Raises ``crypto.DecryptionError`` when
    a value matches no configured key.
    """
    counts: dict[str, int] = {}
    for model, name in encrypted_columns():
        label = f"{model._meta.label}.{name}"
        counts[label] = 0
        raw = (
            model._base_manager.exclude(**{name: ""})
            .exclude(**{f"{name}__isnull": True})
            .annotate(_token=Cast(name, TextField()))  # the stored token, not decrypted
            .order_by("pk")
        )
        last_pk = None
        while True:
            page = raw if last_pk is None else raw.filter(pk__gt=last_pk)
            rows = list(page.values_list("pk", "_token")[:batch_size])
            if not rows:
                break
            with transaction.atomic():
                for pk, token in rows:
                    rotated = crypto.reencrypt(token)
                    if rotated is not None:
                        # a Value bypasses the field, so the token is stored as is
                        model._base_manager.filter(pk=pk).update(
                            **{name: Value(rotated, output_field=TextField())}
                        )
                        counts[label] += 1
            last_pk = rows[-1][0]
    return counts
