from django.apps import AppConfig


class DestinationsConfig(AppConfig):
    name = "destinations"
    verbose_name = "Destinations (webhooks)"

    def ready(self) -> None:
        # in ready(): models may be imported only once the app registry is loaded
        from consent import registry
        from destinations.services.privacy import erase_deliveries, export_deliveries

        registry.register_eraser("destinations", erase_deliveries)
        registry.register_exporter("webhook_deliveries", export_deliveries)
