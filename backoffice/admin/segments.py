"""The Segment admin: segments' rule builder and members with sources' member exports."""

from django.contrib import admin

from accounts.admin_roles import HistoryAdmin
from segments.admin import SegmentAdminMixin
from segments.models import Segment
from sources.admin_exports import SegmentExportMixin


@admin.register(Segment)
class SegmentAdmin(SegmentExportMixin, SegmentAdminMixin, HistoryAdmin):
    actions = [*SegmentAdminMixin.actions, *SegmentExportMixin.export_actions]
