"""System checks of the base layer (registered in ``CoreConfig.ready``)."""

from __future__ import annotations

from django.core.checks import Error, Tags, register

from core import crypto


@register(Tags.security, deploy=True)
def encryption_keys_configured(app_configs, **kwargs):
    """``check --deploy`` refuses production without real encryption keys."""
    from django.conf import settings

    if not getattr(settings, crypto.SETTING, None):
        return [
            Error(
                f"{crypto.SETTING} is not set: stored secrets (webhook signing secrets) "
                "cannot be encrypted or read.",
                hint="Set it to a Fernet key (comma-separated, newest first); see README.",
                id="core.E001",
            )
        ]
    if crypto.is_development_key_in_use():
        return [
            Error(
                f"{crypto.SETTING} is the development key derived from SECRET_KEY.",
                hint="Set TRIBUTARY_ENCRYPTION_KEYS to a key of its own (see README).",
                id="core.E002",
            )
        ]
    return []
