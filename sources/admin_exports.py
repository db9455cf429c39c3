"""Exports in the admin: the export audit trail, and the mixins that add
"Export to CSV/XLSX…" to the customer, event and segment admins.

The customers and segments apps cannot import sources (dependencies point
one way), so sources exports mixins and ``backoffice.admin`` composes them
into the one admin of each of those models. Every export first asks what the
file is for (a consent purpose): only people that purpose may use are written.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.http import content_disposition_header

from accounts.admin_roles import RoleAwareAdmin
from consent.models import Purpose
from segments.models import Segment
from sources.exports.service import (
    ExportFile,
    export_customers,
    export_events,
    export_segment_members,
    segment_members,
)
from sources.models import ExportRecord

FORMATS = ("csv", "xlsx")


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


class ExportForm(forms.Form):
    """What an export is for: only customers that purpose may use are written."""

    purpose = forms.ModelChoiceField(
        queryset=Purpose.objects.filter(is_active=True), to_field_name="code"
    )


class SegmentExportForm(ExportForm):
    file_format = forms.ChoiceField(choices=[("csv", "CSV"), ("xlsx", "Excel (XLSX)")])


def _download(export: ExportFile) -> StreamingHttpResponse:
    response = StreamingHttpResponse(export.chunks, content_type=export.content_type)
    response["Content-Disposition"] = content_disposition_header(True, export.filename)
    return response


def _export_action(file_format: str, exporter, keyword: str):
    def action(modeladmin, request, queryset):
        form = ExportForm(request.POST if "purpose" in request.POST else None)
        if form.is_bound and form.is_valid():
            export = exporter(
                **{keyword: queryset},
                file_format=file_format,
                purpose=form.cleaned_data["purpose"],
                actor=request.user,  # checks the permission; viewers get masked files
            )
            return _download(export)
        return TemplateResponse(
            request,
            "admin/sources/export_purpose.html",
            {
                **modeladmin.admin_site.each_context(request),
                "title": f"Export to {file_format.upper()}: what is it for?",
                "opts": modeladmin.model._meta,
                "form": form,
                "action_name": request.POST.get("action", ""),
                "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                "select_across": request.POST.get("select_across", "0"),
                "count": queryset.count(),
            },
        )

    action.__name__ = f"export_{file_format}"
    what = "members " if keyword == "segments" else ""
    description = f"Export {what}to {file_format.upper()}…"
    return admin.action(description=description, permissions=["view"])(action)


def _export_members(segments, file_format: str, purpose: Purpose, actor) -> ExportFile:
    return export_segment_members(
        segments=segments, file_format=file_format, purpose=purpose, actor=actor
    )


class CustomerExportMixin:
    """The customer list's export actions (list them in the admin's ``actions``)."""

    export_actions = tuple(_export_action(f, export_customers, "customers") for f in FORMATS)


class EventExportMixin:
    """The event list's export actions (list them in the admin's ``actions``)."""

    export_actions = tuple(_export_action(f, export_events, "events") for f in FORMATS)


class SegmentExportMixin:
    """The segment list's "Export members" actions (list them in the admin's
    ``actions``) and the segment page's "Export members", which asks what the
    file is for like the actions do."""

    export_actions = tuple(_export_action(f, _export_members, "segments") for f in FORMATS)

    def get_urls(self):
        view = self.admin_site.admin_view(self.export_members_view)
        own = path("<int:pk>/export/", view, name="segments_segment_export")
        return [own, *super().get_urls()]

    def export_members_view(self, request, pk: int):
        segment = get_object_or_404(Segment, pk=pk)
        if not self.has_view_permission(request, segment):
            raise PermissionDenied
        form = SegmentExportForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            export = export_segment_members(
                segments=[segment],
                file_format=form.cleaned_data["file_format"],
                purpose=form.cleaned_data["purpose"],
                actor=request.user,  # checks the permissions; viewers get masked files
            )
            return _download(export)
        return TemplateResponse(
            request,
            "admin/sources/export_purpose.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Export the members of {segment.name}: what is it for?",
                "opts": Segment._meta,
                "original": segment,
                "form": form,
                "count": segment_members([segment]).count(),
            },
        )
