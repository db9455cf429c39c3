"""The shared-values list: identifier values seen with several people
(an office line, a family phone), which no longer link calls to profiles.

Data stewards (and Admins) unflag a value (it links again) or block it
(never used as an identifier again); Viewers and Marketers only read, and
Viewers see the values masked. Both actions call
``customers.services.shared_values``, which checks the permission again.
Self-contained: ``customers.admin`` imports this module for its registration.
"""

from django.contrib import admin, messages

from accounts.admin_roles import HistoryAdmin
from customers.models import SharedValue
from customers.services.shared_values import block, unflag


@admin.action(description="Unflag: the selected values link profiles again", permissions=["change"])
def unflag_selected(modeladmin, request, queryset):
    changed = unflag(shared_values=list(queryset), actor=request.user)
    modeladmin.message_user(request, f"{changed} value(s) unflagged.", messages.SUCCESS)


@admin.action(
    description="Block: never use the selected values as identifiers", permissions=["change"]
)
def block_selected(modeladmin, request, queryset):
    if not request.user.has_perm("customers.change_identifiertype"):
        modeladmin.message_user(
            request, "Blocking needs the right to change identifier types.", messages.ERROR
        )
        return
    changed = block(shared_values=list(queryset), actor=request.user)
    modeladmin.message_user(request, f"{changed} value(s) blocked.", messages.SUCCESS)


@admin.register(SharedValue)
class SharedValueAdmin(HistoryAdmin):
    history_list_display = ("history_actor",)  # who: user, API key or source
    list_display = ("value", "type", "status", "seen_with", "first_seen", "flagged_at")
    list_filter = ("status", "type")
    list_select_related = ("type",)
    search_fields = ("value",)
    show_full_result_count = False
    actions = (unflag_selected, block_selected)
    readonly_fields = ("type", "value", "status", "seen_with", "first_seen", "flagged_at")

    def has_add_permission(self, request):
        return False  # rows come from what arrives; stewards decide on them

    def has_change_permission(self, request, obj=None):
        # the change page is read-only; decisions are the two actions
        return obj is None and super().has_change_permission(request)
