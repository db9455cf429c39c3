from django.apps import AppConfig


class SourcesConfig(AppConfig):
    name = "sources"

    def ready(self) -> None:
        # in ready(): models may be imported only once the app registry is loaded
        from consent import registry
        from sources.personalization.documents import erase_documents
        from sources.privacy import erase_from_imports, erase_from_intake

        registry.register_eraser("sources.intake", erase_from_intake)
        registry.register_eraser("sources.imports", erase_from_imports)
        registry.register_eraser("sources.profile_documents", erase_documents)
