"""The marketer's segment screens: the rule builder, members, sizes, computed traits."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpResponseRedirect, JsonResponse
from django.urls import path, reverse

from accounts.admin_roles import HistoryAdmin, RoleAwareAdmin
from accounts.masking import (
    can_see_contact_details,
    is_contact_key,
    mask_email,
    redact_data,
    redact_text,
    shown_text,
)
from customers.models import Customer
from customers.selectors import customer_ids_matching_identifier
from segments import previews, selectors
from segments.charts import size_chart
from segments.describe import describe_rule
from segments.models import ComputedTrait, Segment, SegmentMembership
from segments.rules import InvalidRule, contact_conditions, validate_rule
from segments.services import (
    add_to_static_segment,
    delete_segments,
    recompute_segment,
    save_computed_trait,
    save_segment,
)

MEMBERS_SHOWN = 50


class SegmentForm(forms.ModelForm):
    members_to_add = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Add members",
        help_text="Static segments: one identifier per line (email, phone, user id, or "
        "type:value).",
    )
    members_picked = forms.ModelMultipleChoiceField(
        queryset=Customer.objects.active(),
        required=False,
        widget=AutocompleteSelectMultiple(
            SegmentMembership._meta.get_field("customer"), admin.site
        ),
        label="Pick members",
        help_text="Static segments: find people by name, company, city or an identifier.",
    )

    class Meta:
        model = Segment
        fields = ("name", "description", "kind", "is_active", "personalize", "rule")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == Segment.Kind.DYNAMIC:
            try:
                validate_rule(cleaned.get("rule"), segment_id=self.instance.pk)
            except InvalidRule as error:
                self.add_error("rule", [f"{e.path}: {e.message} ({e.code})" for e in error.errors])
        lines = [line for line in cleaned.get("members_to_add", "").splitlines() if line.strip()]
        if lines and cleaned.get("kind") != Segment.Kind.STATIC:
            self.add_error("members_to_add", "Only static segments take hand-picked members.")
        if cleaned.get("members_picked") and cleaned.get("kind") != Segment.Kind.STATIC:
            self.add_error("members_picked", "Only static segments take hand-picked members.")
        unknown = [line for line in lines if not customer_ids_matching_identifier(line)]
        if unknown:
            self.add_error("members_to_add", f"No profile found for: {', '.join(unknown[:10])}")
        cleaned["member_lines"] = lines
        return cleaned


class SegmentAdminMixin:
    """The rule builder, members and sizes; ``backoffice.admin`` composes the
    one Segment admin from it (on ``HistoryAdmin``), with sources' exports."""

    form = SegmentForm
    change_form_template = "admin/segments/segment/change_form.html"
    list_display = ("name", "kind", "size", "is_active", "personalize", "computed_at")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "description")
    readonly_fields = ("size", "computed_at")
    actions = ["recompute"]

    class Media:
        css = {"all": ("segments/builder.css",)}
        js = ("segments/builder.js",)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        save_segment(
            segment=obj,
            name=data["name"],
            kind=data["kind"],
            rule=data.get("rule") or {},
            description=data.get("description", ""),
            is_active=data.get("is_active", True),
            personalize=data.get("personalize", False),
        )
        ids = set()
        for line in data.get("member_lines", []):
            ids |= customer_ids_matching_identifier(line)
        ids |= {customer.pk for customer in data.get("members_picked") or ()}
        if ids:
            entered = add_to_static_segment(segment=obj, customer_ids=ids)
            self.message_user(request, f"{len(entered)} profiles added.", messages.SUCCESS)

    def delete_model(self, request, obj):
        delete_segments(segment_ids=[obj.pk])

    def delete_queryset(self, request, queryset):
        delete_segments(segment_ids=list(queryset.values_list("pk", flat=True)))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        segment = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if segment is not None:
            members = selectors.current_members(segment)
            extra.update(
                members=members[:MEMBERS_SHOWN],
                members_shown=MEMBERS_SHOWN,
                size_chart=size_chart(selectors.daily_sizes(segment)),
                # the view is the export code's (sources.admin): it asks for the purpose
                export_url=reverse("admin:segments_segment_export", args=[segment.pk]),
                rule_summary=shown_text(request.user, describe_rule(segment.rule))
                if segment.kind == Segment.Kind.DYNAMIC
                else "",
                other_segments=Segment.objects.exclude(pk=segment.pk)
                .order_by("name")
                .values_list("pk", "name"),
                **self._overlap_context(request, segment),
            )
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def _overlap_context(self, request, segment: Segment) -> dict:
        """``?overlap=ID``: this segment's members against another's."""
        wanted = request.GET.get("overlap", "")
        if not wanted:
            return {}
        other = None
        if wanted.isdigit() and len(wanted) <= 18:
            other = Segment.objects.exclude(pk=segment.pk).filter(pk=int(wanted)).first()
        if other is None:
            return {"overlap_error": "Pick another segment to compare with."}
        return {"overlap_with": other, "overlap": selectors.overlap(segment, other)}

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("builder/options/", wrap(self.options_view), name="segments_builder_options"),
            path("builder/values/", wrap(self.values_view), name="segments_builder_values"),
            path("builder/preview/", wrap(self.preview_view), name="segments_builder_preview"),
            *super().get_urls(),
        ]

    # --- JSON endpoints for the builder -------------------------------------

    def _require_view(self, request) -> None:
        if not self.has_view_permission(request):
            raise PermissionDenied

    def options_view(self, request):
        self._require_view(request)
        return JsonResponse(selectors.builder_options())

    def values_view(self, request):
        """``?event=NAME`` → its property names; ``?field=`` / ``?trait=`` /
        ``?event=&property=`` → common values."""
        self._require_view(request)
        params = request.GET
        if params.get("event") and not params.get("property"):
            return JsonResponse({"properties": selectors.event_properties(params["event"])})
        masked = not can_see_contact_details(request.user)
        names = [params.get("field", ""), params.get("trait", ""), params.get("property", "")]
        if masked and any(is_contact_key(name) for name in names if name):
            return _contact_refused(["$"])
        values = selectors.top_values(
            field=params.get("field", ""),
            trait=params.get("trait", ""),
            event=params.get("event", ""),
            prop=params.get("property", ""),
        )
        return JsonResponse({"values": redact_data(values) if masked else values})

    def preview_view(self, request):
        """POST ``{"rule", "segment_id"}`` → count and sample; errors in the API's
        one shape ``{"code", "message", "details"}`` (rule errors in
        ``details.errors``)."""
        self._require_view(request)
        if request.method != "POST":
            return _json_error("method_not_allowed", "POST a rule", 405)
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, RecursionError):
            return _json_error("invalid_json", "body is not JSON")
        if not isinstance(body, dict):
            return _json_error("invalid_json", "expected an object")
        masked = not can_see_contact_details(request.user)
        if masked and (paths := contact_conditions(body.get("rule"))):
            return _contact_refused(paths)
        segment_id = body.get("segment_id")
        result = previews.preview(
            rule=body.get("rule"), segment_id=segment_id if isinstance(segment_id, int) else None
        )
        if result["errors"]:
            return _json_error(
                "invalid_rule", "the rule is not valid", details={"errors": result["errors"]}
            )
        if masked:
            for row in result["sample"]:
                row["name"], row["email"] = redact_text(row["name"]), mask_email(row["email"])
        return JsonResponse(result)

    @admin.action(description="Recompute membership now", permissions=["change"])
    def recompute(self, request, queryset: QuerySet[Segment]) -> HttpResponseRedirect | None:
        for segment in queryset:
            result = recompute_segment(segment_id=segment.pk, actor=request.user)
            self.message_user(
                request,
                f"{segment.name}: {result.size} members (+{result.entered} / -{result.exited})",
                messages.SUCCESS,
            )
        return None


def _contact_refused(paths: list[str]) -> JsonResponse:
    return _json_error(
        "contact_condition_forbidden",
        "Your role may not use email or phone conditions (they would reveal what is masked).",
        403,
        details={"paths": paths},
    )


@admin.register(SegmentMembership)
class SegmentMembershipAdmin(RoleAwareAdmin):
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
class ComputedTraitAdmin(HistoryAdmin):
    list_display = ("name", "kind", "event", "property", "window_days")
    list_filter = ("kind",)
    search_fields = ("name", "event", "property")

    def save_model(self, request, obj, form, change):
        save_computed_trait(trait=obj)


def _json_error(code: str, message: str, status: int = 400, details: dict | None = None):
    """The builder's errors in the REST API's shape."""
    return JsonResponse({"code": code, "message": message, "details": details or {}}, status=status)
