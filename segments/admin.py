"""The marketer's segment screens: rules, members, sizes, computed traits."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from simple_history.admin import SimpleHistoryAdmin

from segments.models import ComputedTrait, Segment, SegmentMembership
from segments.rules import InvalidRule, validate_rule
from segments.services import recompute_segment, save_computed_trait, save_segment


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ("name", "description", "kind", "is_active", "rule")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == Segment.Kind.DYNAMIC:
            try:
                validate_rule(cleaned.get("rule"), segment_id=self.instance.pk)
            except InvalidRule as error:
                self.add_error("rule", [f"{e.path}: {e.message} ({e.code})" for e in error.errors])
        return cleaned


@admin.register(Segment)
class SegmentAdmin(SimpleHistoryAdmin):
    form = SegmentForm
    list_display = ("name", "kind", "size", "is_active", "computed_at")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "description")
    readonly_fields = ("size", "computed_at", "dependencies")
    actions = ["recompute"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        save_segment(
            segment=obj,
            name=data["name"],
            kind=data["kind"],
            rule=data.get("rule") or {},
            description=data.get("description", ""),
            is_active=data.get("is_active", True),
        )

    @admin.action(description="Recompute membership now")
    def recompute(self, request, queryset: QuerySet[Segment]) -> None:
        for segment in queryset:
            result = recompute_segment(segment_id=segment.pk)
            self.message_user(
                request,
                f"{segment.name}: {result.size} members (+{result.entered} / -{result.exited})",
                messages.SUCCESS,
            )


@admin.register(SegmentMembership)
class SegmentMembershipAdmin(admin.ModelAdmin):
    list_display = ("segment", "customer", "entered_at", "exited_at")
    list_filter = ("segment", ("exited_at", admin.EmptyFieldListFilter))
    list_select_related = ("segment", "customer")
    raw_id_fields = ("customer",)
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ComputedTrait)
class ComputedTraitAdmin(SimpleHistoryAdmin):
    list_display = ("name", "kind", "event", "property", "window_days")
    list_filter = ("kind",)
    search_fields = ("name", "event", "property")

    def save_model(self, request, obj, form, change):
        save_computed_trait(trait=obj)
