"""The Event admin: customers' event list with sources' export actions."""

from django.contrib import admin

from accounts.admin_roles import RoleAwareAdmin
from customers.admin import EventAdminMixin
from customers.models import Event
from sources.admin_exports import EventExportMixin


@admin.register(Event)
class EventAdmin(EventExportMixin, EventAdminMixin, RoleAwareAdmin):
    actions = [*EventExportMixin.export_actions]
