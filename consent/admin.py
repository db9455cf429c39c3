"""Consent and privacy in the back office: purposes, consent records, requests."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.admin_roles import HistoryAdmin, RoleAwareAdmin
from consent.models import (
    ConsentRecord,
    DataSubjectRequest,
    Purpose,
    SuppressedMessageCount,
    Suppression,
)
from consent.services.consent import record_consent
from consent.services.privacy import (
    PrivacyRequestError,
    create_request,
    parse_identifier,
    run_requests_again,
)
from customers.models import Customer


@admin.register(Purpose)
class PurposeAdmin(HistoryAdmin):
    history_list_display = ("history_actor",)  # who: user, API key or source
    list_display = ("name", "code", "legal_basis", "tracking_categories", "is_active")
    list_filter = ("legal_basis", "is_active")
    search_fields = ("name", "code")

    def has_delete_permission(self, request, obj=None):
        return False  # records point at purposes; deactivate instead


class ConsentRecordForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "occurred_at" in self.fields:  # the service records "now" without one
            self.fields["occurred_at"].required = False
            self.fields[
                "occurred_at"
            ].help_text = "When the person gave or refused consent; empty: now."

    class Meta:
        model = ConsentRecord
        fields = (
            "customer",
            "purpose",
            "state",
            "occurred_at",
            "wording",
            "wording_version",
        )


@admin.register(ConsentRecord)
class ConsentRecordAdmin(RoleAwareAdmin):
    """Consent statements are evidence: they are added, never edited or deleted."""

    form = ConsentRecordForm
    list_display = ("occurred_at", "customer", "purpose", "state", "method", "source", "actor")
    list_filter = ("purpose", "state", "method")
    list_select_related = ("customer", "purpose", "source")
    autocomplete_fields = ("customer",)  # typeahead over the customer search
    date_hierarchy = "occurred_at"
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return [f.name for f in ConsentRecord._meta.fields]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ConsentRecordForm.Meta.fields
        return [f.name for f in ConsentRecord._meta.fields if f.name != "id"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        record = record_consent(
            customer=data["customer"],
            purpose=data["purpose"],
            state=data["state"],
            method=ConsentRecord.Method.ADMIN,
            occurred_at=data.get("occurred_at"),
            ip_address=request.META.get("REMOTE_ADDR"),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            wording=data.get("wording", ""),
            wording_version=data.get("wording_version", ""),
        )
        obj.pk = record.pk

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False


class DataSubjectRequestForm(forms.ModelForm):
    """A request is filed under an identifier: typed (``type:value``), or
    taken from a customer picked by name (the customer's first identifier by
    type priority, as the 360 page's request form offers)."""

    customer = forms.ModelChoiceField(
        queryset=Customer.objects.active(),
        required=False,
        widget=AutocompleteSelect(ConsentRecord._meta.get_field("customer"), admin.site),
        help_text="Or pick the person: the request is filed under their main identifier.",
    )

    class Meta:
        model = DataSubjectRequest
        fields = ("type", "customer", "identifier")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "identifier" in self.fields:  # (a filed request's page shows it read-only)
            self.fields["identifier"].required = False

    def clean_identifier(self):
        text = self.cleaned_data["identifier"]
        if not text:
            return ""
        try:
            type_name, value = parse_identifier(text)
        except PrivacyRequestError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None
        return f"{type_name}:{value}"

    def clean(self):
        cleaned = super().clean()
        customer = cleaned.get("customer")
        if cleaned.get("identifier") or "identifier" in self.errors:
            return cleaned
        if customer is None:
            raise forms.ValidationError("Type an identifier or pick the person.", code="required")
        identity = customer.identities.select_related("type").order_by("type__priority").first()
        if identity is None:
            self.add_error("customer", "This profile has no identifier to file a request under.")
        else:
            cleaned["identifier"] = f"{identity.type.name}:{identity.value}"
        return cleaned


@admin.register(DataSubjectRequest)
class DataSubjectRequestAdmin(RoleAwareAdmin):
    form = DataSubjectRequestForm
    list_display = (
        "__str__",
        "type",
        "status",
        "created_at",
        "due_at",
        "handled_by",
        "completed_at",
        "result",
    )
    list_filter = ("type", "status")
    list_select_related = ("handled_by",)
    date_hierarchy = "created_at"
    actions = ["run_again"]
    readonly_fields = (
        "status",
        "outcome",
        "created_at",
        "due_at",
        "handled_by",
        "requested_by",
        "completed_at",
        "summary",
        "error",
        "result",
    )

    def get_fields(self, request, obj=None):
        return (
            ("type", "customer", "identifier")
            if obj is None
            else ("type", "identifier", *self.readonly_fields)
        )

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("type", "identifier", *self.readonly_fields)

    def save_model(self, request, obj, form, change):
        created = create_request(
            type=form.cleaned_data["type"],
            identifier=form.cleaned_data["identifier"],
            handled_by=request.user,
        )
        obj.pk = created.pk
        messages.info(request, "The request is being processed; its status updates here.")

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # the record that a request was fulfilled must stay

    @admin.display(description="Result")
    def result(self, obj: DataSubjectRequest) -> str:
        if not obj.result_file:
            return "—"
        url = reverse("admin:consent_datasubjectrequest_download", args=[obj.pk])
        return format_html('<a href="{}">Download export (zip)</a>', url)

    @admin.action(description="Process again (failed or stuck requests)", permissions=["change"])
    def run_again(self, request, queryset):
        queued = run_requests_again(requests=queryset, actor=request.user)
        messages.info(request, f"{queued} request(s) queued again.")

    def get_urls(self):
        download = self.admin_site.admin_view(self.download_view)
        return [
            path("<int:pk>/download/", download, name="consent_datasubjectrequest_download"),
            *super().get_urls(),
        ]

    def download_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise Http404
        privacy_request = get_object_or_404(DataSubjectRequest, pk=pk)
        if not privacy_request.result_file:
            raise Http404
        return FileResponse(
            privacy_request.result_file.open("rb"),
            as_attachment=True,
            filename=f"access-request-{privacy_request.pk}.zip",
        )


@admin.register(Suppression)
class SuppressionAdmin(RoleAwareAdmin):
    list_display = ("__str__", "created_at", "request")
    list_select_related = ("request",)
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SuppressedMessageCount)
class SuppressedMessageCountAdmin(RoleAwareAdmin):
    list_display = ("source", "count", "last_dropped_at")
    list_select_related = ("source",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
