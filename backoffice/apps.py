from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "backoffice"
    verbose_name = "Back office"

    def ready(self) -> None:
        # in ready(): models may be imported only once the app registry is loaded
        from django.contrib import admin

        # in ready(): models may be imported only once the app registry is loaded
        from backoffice.forms import ThrottledAdminLoginForm

        admin.site.login_form = ThrottledAdminLoginForm
