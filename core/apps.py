from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The base layer every app builds on; it imports no app of ours (DESIGN.md)."""

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core import checks  # noqa: F401  (registers the system checks)
