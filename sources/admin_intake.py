"""Admin for the tracking intake: stored calls (with replay) and rejections."""

from django.contrib import admin, messages

from accounts.admin_roles import RoleAwareAdmin
from sources.models import IntakeMessage, RejectedMessage
from sources.services.processing import replay_messages


@admin.register(IntakeMessage)
class IntakeMessageAdmin(RoleAwareAdmin):
    list_display = ("message_id", "type", "source", "status", "attempts", "received_at", "error")
    list_filter = ("status", "type", "source")
    list_select_related = ("source",)
    search_fields = ("=message_id",)
    readonly_fields = [f.name for f in IntakeMessage._meta.fields]
    show_full_result_count = False
    actions = ["replay"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_replay_permission(self, request):
        return request.user.has_perm("sources.change_intakemessage")

    @admin.action(description="Replay through the pipeline now", permissions=["replay"])
    def replay(self, request, queryset):
        outcome = replay_messages(
            intake_ids=list(queryset.values_list("pk", flat=True)), actor=request.user
        )
        level = messages.WARNING if outcome.failed else messages.SUCCESS
        messages.add_message(
            request,
            level,
            f"Processed {len(outcome.processed)}, still failing {len(outcome.failed)}.",
        )


@admin.register(RejectedMessage)
class RejectedMessageAdmin(RoleAwareAdmin):
    list_display = ("received_at", "source", "code", "field", "reason")
    list_filter = ("code", "source")
    list_select_related = ("source",)
    readonly_fields = [f.name for f in RejectedMessage._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
