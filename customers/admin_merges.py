"""Admin for the merge log (with undo) and trait source priorities.

Imported by ``customers.admin``; the actions call ``customers.services.merging``.
"""

from django.contrib import admin, messages
from django.utils.html import format_html

from customers.models import Merge, TraitSourcePriority
from customers.services.merging import MergeError, merge_manually, unmerge


@admin.action(description="Merge selected customers into one")
def merge_selected(modeladmin, request, queryset):
    try:
        merges = merge_manually(
            customer_ids=list(queryset.values_list("pk", flat=True)), actor=request.user
        )
    except MergeError as error:
        modeladmin.message_user(request, error.message, messages.ERROR)
        return
    survivor = merges[0].survivor
    modeladmin.message_user(
        request,
        format_html(
            'Merged {} profiles into <a href="{}">{}</a>. Undo from the merge log.',
            len(merges),
            survivor.get_absolute_url(),
            survivor,
        ),
        messages.SUCCESS,
    )


@admin.action(description="Undo selected merges (unmerge)")
def undo_merges(modeladmin, request, queryset):
    done = 0
    for merge in queryset.order_by("-created_at", "-id"):
        try:
            unmerge(merge=merge, actor=request.user)
        except MergeError as error:
            modeladmin.message_user(request, f"Merge #{merge.pk}: {error.message}", messages.ERROR)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, f"Undid {done} merge(s).", messages.SUCCESS)


@admin.register(Merge)
class MergeAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "absorbed",
        "survivor",
        "reason",
        "why",
        "actor",
        "rows_moved",
        "undone_at",
    )
    list_filter = ("reason", "created_at", "undone_at")
    list_select_related = ("survivor", "absorbed", "actor")
    raw_id_fields = ("survivor", "absorbed")
    search_fields = ("=survivor__id", "=absorbed__id")
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = [undo_merges]
    readonly_fields = (
        "survivor",
        "absorbed",
        "reason",
        "detail",
        "actor",
        "moved_summary",
        "kept",
        "changes",
        "created_at",
        "undone_at",
        "undone_by",
    )
    exclude = ("moved",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="why")
    def why(self, obj: Merge) -> str:
        if obj.reason == Merge.Reason.IDENTIFIER:
            return ", ".join(obj.detail.get("identifiers", []))
        if obj.reason == Merge.Reason.DUPLICATE:
            return f"score {obj.detail.get('score', '?')}"
        return obj.detail.get("by", "")

    @admin.display(description="rows moved")
    def rows_moved(self, obj: Merge) -> int:
        return obj.moved_count

    @admin.display(description="moved")
    def moved_summary(self, obj: Merge) -> str:
        return ", ".join(f"{label}: {len(pks)}" for label, pks in obj.moved.items()) or "nothing"


@admin.register(TraitSourcePriority)
class TraitSourcePriorityAdmin(admin.ModelAdmin):
    list_display = ("source", "priority")
    list_editable = ("priority",)
    list_select_related = ("source",)
