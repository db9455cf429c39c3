from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "backoffice"
    verbose_name = "Back office"

    def ready(self) -> None:
        # in ready(): models may be imported only once the app registry is loaded
        from django.contrib import admin
        from django.db.backends.signals import connection_created

        # in ready(): models may be imported only once the app registry is loaded
        from backoffice.forms import ThrottledAdminLoginForm
        from backoffice.name_search import register_sqlite_fold

        admin.site.login_form = ThrottledAdminLoginForm
        # the name search's fold function (PostgreSQL has it from a migration)
        connection_created.connect(register_sqlite_fold, dispatch_uid="tributary_fold")
