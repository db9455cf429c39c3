from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = "Insights (RFM, lifecycle, scores, predictions)"

    def ready(self) -> None:
        # in ready(): models may be imported only once the app registry is loaded
        from consent import registry
        from insights.privacy import erase_insights, export_insights

        registry.register_eraser("insights", erase_insights)
        registry.register_exporter("insights", export_insights)
