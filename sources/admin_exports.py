"""Admin for the export audit trail: every file that left, who took it, for which purpose."""

from django.contrib import admin

from accounts.admin_roles import RoleAwareAdmin
from sources.models import ExportRecord


@admin.register(ExportRecord)
class ExportRecordAdmin(RoleAwareAdmin):
    list_display = ("created_at", "actor", "what", "detail", "purpose", "file_format", "rows")
    list_filter = ("what", "purpose", "masked", "created_at")
    list_select_related = ("purpose",)
    search_fields = ("actor", "detail")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in ExportRecord._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
