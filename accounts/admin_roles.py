"""Role boundaries every back-office admin keeps, written once, on the
back office's theme (django-unfold: its ``ModelAdmin`` and inline mixins).

Every ``ModelAdmin`` of ours derives from ``RoleAwareAdmin`` (or, with
django-simple-history, from ``HistoryAdmin``) and every inline from
``RoleAwareInline``; ``tests/security`` fails on one that does not.

For everyone:

- **History is read-only.** The history pages and each version stay
  readable; the version page ("revert form") answers any POST with 403. A
  revert would write the old row back around the services, the outbox and
  the identity rules; ``SIMPLE_HISTORY_REVERT_DISABLED`` only hides the
  button.
- Row checkboxes are labelled with the object masked (screen readers read
  the label; it is in every change list's HTML).

For people who may not see contact details (Viewers, see
``accounts.masking``):

- every text and JSON field is shown masked, in lists, pages, inlines and
  the history (titles, changes, versions);
- searches leave out identifier fields (emails, phones, identity values),
  so a substring search cannot recover what the mask hides, and a term that
  is an email or phone number is refused (403), as is a change-list filter
  on an identifier field.
"""

from __future__ import annotations

from functools import cache

from django import forms
from django.contrib.admin import helpers
from django.contrib.admin.views.main import IGNORED_PARAMS, PAGE_VAR
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.utils.html import format_html
from django.utils.translation import gettext as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper
from unfold.admin import BaseInlineMixin
from unfold.admin import ModelAdmin as UnfoldModelAdmin
from unfold.mixins import BaseModelAdminMixin
from unfold.widgets import UnfoldBooleanWidget

from accounts.masking import (
    can_see_contact_details,
    is_contact_key,
    is_contact_lookup,
    mask_field,
    redact_json,
    redact_text,
    shown_text,
)

MASKED = "masked__"
_TEXT_FIELDS = (
    models.CharField,
    models.TextField,
    models.JSONField,
    models.GenericIPAddressField,
)
# Fields holding a person's identifiers besides those named like contact
# details (``email``, ``phone``, ``work_email``…), as ``app_label.model.field``.
IDENTIFIER_FIELDS = frozenset(
    {
        "customers.identity.value",
        "customers.sharedvalue.value",
        "customers.dataqualityissue.value",
        "sources.importissue.value",
        "consent.datasubjectrequest.identifier",
    }
)
SEARCH_REFUSED = (
    "Your role may not search by email address or phone number (a search would "
    "reveal what is masked). Search by name, or ask a marketer or data steward."
)
FILTER_REFUSED = "Your role may not filter by email address, phone number or identifier."
REVERT_REFUSED = (
    "History is read-only: reverting to an old version is disabled for every "
    "role, as it would bypass the checks every change goes through."
)
# Set on the request while a history version is shown: every field read-only.
_SNAPSHOT = "_tributary_history_snapshot"


def is_identifier_field(field) -> bool:
    label = f"{field.model._meta.label_lower}.{field.name}"
    return label in IDENTIFIER_FIELDS or is_contact_key(field.name)


@cache
def _masked_fields(model) -> dict[str, models.Field]:
    """The fields of ``model`` a viewer sees masked: free text and JSON."""
    return {
        f.name: f
        for f in model._meta.concrete_fields
        if isinstance(f, _TEXT_FIELDS) and not f.choices
    }


def _field_at(model, path: str):
    """The model field a search or filter path (``customer__email__startswith``) ends on."""
    field = None
    for part in path.lstrip("=^@").split("__"):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            break
        if not field.is_relation or field.related_model is None:
            break
        model = field.related_model
    return field


def _masked_display(field: models.Field):
    def display(obj):
        value = getattr(obj, field.attname)
        if isinstance(field, models.JSONField):
            return None if value is None else redact_json(value)
        return mask_field(field.name, value)

    display.short_description = field.verbose_name
    if not is_identifier_field(field):  # sorting by email would leak its order
        display.admin_order_field = field.name
    return display


class MaskedFieldsMixin:
    """Swaps text and JSON fields for masked read-only versions for viewers."""

    def _masked_names(self, request, names):
        if can_see_contact_details(request.user):
            return list(names)
        own = _masked_fields(self.model)
        return [
            tuple(self._masked_names(request, n))
            if isinstance(n, list | tuple)
            else (MASKED + n if isinstance(n, str) and n in own else n)
            for n in names
        ]

    def __getattr__(self, name: str):
        if name.startswith(MASKED):
            field = _masked_fields(self.model).get(name[len(MASKED) :])
            if field is not None:
                return _masked_display(field)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_fieldsets(self, request, obj=None):
        fieldsets, seen = [], set()
        for title, opts in super().get_fieldsets(request, obj):
            fields = []
            for name in self._masked_names(request, opts["fields"]):
                if name not in seen:  # a form field and its masked twin: once
                    seen.add(name)
                    fields.append(name)
            if fields:
                fieldsets.append((title, {**opts, "fields": fields}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if getattr(request, _SNAPSHOT, False):
            opts = self.model._meta
            fields += [f.name for f in (*opts.concrete_fields, *opts.many_to_many) if f.editable]
        if can_see_contact_details(request.user):
            return list(dict.fromkeys(fields))
        masked = [MASKED + name for name in _masked_fields(self.model)]
        return list(dict.fromkeys([*self._masked_names(request, fields), *masked]))


class RoleAwareAdmin(MaskedFieldsMixin, UnfoldModelAdmin):
    """Base of every admin of ours (see the module docstring)."""

    list_fullwidth = True  # lists use the whole screen

    def get_list_display(self, request):
        return self._masked_names(request, super().get_list_display(request))

    def get_list_display_links(self, request, list_display):
        links = super().get_list_display_links(request, list_display)
        return self._masked_names(request, links) if links else links

    def action_checkbox(self, obj):
        attrs = {
            "class": "action-select",
            "aria-label": format_html(
                _("Select this object for an action - {}"), redact_text(str(obj))
            ),
        }
        checkbox = UnfoldBooleanWidget(attrs, lambda value: False)
        return checkbox.render(helpers.ACTION_CHECKBOX_NAME, str(obj.pk))

    def get_search_fields(self, request):
        fields = super().get_search_fields(request)
        if can_see_contact_details(request.user):
            return fields
        return [
            f
            for f in fields
            if (field := _field_at(self.model, f)) is None or not is_identifier_field(field)
        ]

    def get_search_results(self, request, queryset, search_term):
        search_term = search_term.replace("\x00", "")  # PostgreSQL text holds no NUL
        if (
            search_term
            and not can_see_contact_details(request.user)
            and is_contact_lookup(search_term)
        ):
            raise PermissionDenied(SEARCH_REFUSED)
        return super().get_search_results(request, queryset, search_term)

    def changelist_view(self, request, extra_context=None):
        if not can_see_contact_details(request.user):
            for key in request.GET:
                if key in IGNORED_PARAMS or key in (PAGE_VAR, "e", "_changelist_filters"):
                    continue
                field = _field_at(self.model, key)
                if field is not None and is_identifier_field(field):
                    raise PermissionDenied(FILTER_REFUSED)
        return super().changelist_view(request, extra_context)


class RoleAwareInline(MaskedFieldsMixin, BaseInlineMixin, BaseModelAdminMixin):
    """Mixed into every inline of ours, before Django's inline class (with
    the theme's widgets, as ``unfold.admin.TabularInline`` has them)."""


class _MaskedChanges(HistoricalRecordContextHelper):
    def prepare_delta_change_value(self, change, value):
        return super().prepare_delta_change_value(change, mask_field(change.field, value))


class HistoryAdmin(RoleAwareAdmin, SimpleHistoryAdmin):
    """Base of every admin with django-simple-history: read-only, masked history."""

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied(REVERT_REFUSED)
        setattr(request, _SNAPSHOT, True)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if getattr(request, _SNAPSHOT, False):  # every field read-only: no custom form
            kwargs["form"] = forms.ModelForm
        return super().get_form(request, obj, change, **kwargs)

    def history_view_title(self, request, obj):
        return _("View history: %s") % shown_text(request.user, str(obj))

    def history_form_view_title(self, request, obj):
        return _("View %s") % shown_text(request.user, str(obj))

    def get_historical_record_context_helper(self, request, historical_record):
        if can_see_contact_details(request.user):
            return super().get_historical_record_context_helper(request, historical_record)
        return _MaskedChanges(self.model, historical_record)
