from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from sources.models import Source
from sources.services.keys import create_source, rotate_write_key


@admin.register(Source)
class SourceAdmin(SimpleHistoryAdmin):
    list_display = ("name", "kind", "write_key_prefix", "enabled", "created_at")
    list_filter = ("kind", "enabled")
    search_fields = ("name",)
    readonly_fields = ("write_key_prefix", "write_key_rotated_at", "created_at")
    actions = ["rotate_keys"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        source, key = create_source(name=obj.name, kind=obj.kind, description=obj.description)
        obj.pk = source.pk
        obj.write_key_prefix = source.write_key_prefix
        messages.warning(
            request, f"Write key for {source.name} (shown only once, copy it now): {key}"
        )

    @admin.action(description="Rotate write key (the old key stops working)")
    def rotate_keys(self, request, queryset):
        for source in queryset:
            key = rotate_write_key(source=source)
            messages.warning(request, f"New write key for {source.name} (shown once): {key}")
