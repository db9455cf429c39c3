from django.apps import AppConfig
from django.db.models.signals import post_migrate

from accounts.roles import sync_roles


def _sync_roles_after_migrate(sender, app_config, using, apps=None, **kwargs):
    """Give the role groups their share of the permissions just created.

    Django creates an app's permissions in its own post_migrate handler
    (connected earlier, as ``auth`` is installed before ``accounts``); this
    runs after it for the same app, so a model added later by any app joins
    the roles that match it (see ``accounts.roles``).
    """

    if not app_config.models_module:
        return
    sync_roles(app_labels=[app_config.label], using=using)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and access"

    def ready(self) -> None:
        post_migrate.connect(_sync_roles_after_migrate, dispatch_uid="accounts.sync_roles")
