from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "segments"

    def ready(self) -> None:
        # in ready(): models may be imported only once the app registry is loaded
        from consent import registry
        from segments.privacy import erase_memberships, export_memberships

        registry.register_eraser("segments", erase_memberships)
        registry.register_exporter("segment_memberships", export_memberships)
