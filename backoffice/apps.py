from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "backoffice"
    verbose_name = "Back office"

    def ready(self) -> None:
        from django.contrib import admin
        from django.db.backends.signals import connection_created

        from backoffice.forms import ThrottledAdminLoginForm
        from backoffice.name_search import register_sqlite_fold

        admin.site.login_form = ThrottledAdminLoginForm
        # the name search's fold function (PostgreSQL has it from a migration)
        connection_created.connect(register_sqlite_fold, dispatch_uid="tributary_fold")
