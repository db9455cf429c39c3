from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "backoffice"
    verbose_name = "Back office"

    def ready(self) -> None:
        from django.contrib import admin

        from backoffice.forms import ThrottledAdminLoginForm

        admin.site.login_form = ThrottledAdminLoginForm
