from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent and privacy"

    def ready(self) -> None:
        # in ready(): models may be imported only once the app registry is loaded
        from consent.services.privacy import register_builtin

        register_builtin()
