from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import widgets
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.admin_roles import HistoryAdmin, RoleAwareAdmin, RoleAwareInline
from destinations.errors import BlockedURL
from destinations.models import Delivery, DeliveryAttempt, Destination
from destinations.services.operations import (
    replay_deliveries,
    rotate_secret,
    save_destination,
    send_test_event,
)
from destinations.services.urlguard import check_url


def _https_by_default(field, **kwargs):
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)


class DestinationForm(forms.ModelForm):
    class Meta:
        model = Destination
        fields = (
            "name",
            "url",
            "enabled",
            "purpose",
            "on_profile_created",
            "on_profile_updated",
            "on_profile_merged",
            "on_identify",
            "on_segment_entered",
            "on_segment_exited",
            "segments",
            "track_events",
        )
        formfield_callback = _https_by_default

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "purpose" in self.fields:  # not for people who may only view
            self.fields["purpose"].required = True

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            check_url(url)
        except BlockedURL as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None
        return url

    def clean(self):
        cleaned = super().clean()
        wants_segments = cleaned.get("on_segment_entered") or cleaned.get("on_segment_exited")
        if wants_segments and not cleaned.get("segments"):
            self.add_error("segments", "Choose the segments whose entries and exits to send.")
        return cleaned

    def clean_track_events(self):
        names = self.cleaned_data["track_events"] or []
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise forms.ValidationError('Give a JSON list of event names, e.g. ["Signed Up"].')
        return names


def _count_since(model, *, field: str, since, **filters) -> Subquery:
    rows = (
        model.objects.filter(destination=OuterRef("pk"), **{f"{field}__gte": since}, **filters)
        .order_by()
        .values("destination")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Subquery(rows, output_field=IntegerField())


@admin.register(Destination)
class DestinationAdmin(HistoryAdmin):
    form = DestinationForm
    formfield_overrides = {
        models.URLField: {"assume_scheme": "https", "widget": widgets.AdminURLFieldWidget}
    }
    list_display = ("name", "url", "purpose", "enabled", "success_rate", "skipped_24h", "health")
    list_filter = ("enabled", "purpose")
    list_select_related = ("purpose",)
    filter_horizontal = ("segments",)
    search_fields = ("name", "url")
    readonly_fields = ("secret_rotated_at", "previous_secret_expires_at", "failing_since")
    fieldsets = (
        (None, {"fields": ("name", "url", "enabled", "purpose")}),
        (
            "Receives",
            {
                "fields": (
                    ("on_profile_created", "on_profile_updated", "on_profile_merged"),
                    "on_identify",
                    ("on_segment_entered", "on_segment_exited"),
                    "segments",
                    "track_events",
                )
            },
        ),
        (
            "Signing secret and health",
            {"fields": ("secret_rotated_at", "previous_secret_expires_at", "failing_since")},
        ),
    )
    actions = ["rotate_secrets", "send_test_events"]

    def get_queryset(self, request):
        since = timezone.now() - timedelta(hours=24)
        return (
            super()
            .get_queryset(request)
            .annotate(
                tries_24h=_count_since(DeliveryAttempt, field="attempted_at", since=since),
                ok_24h=_count_since(
                    DeliveryAttempt, field="attempted_at", since=since, outcome="succeeded"
                ),
                skipped=_count_since(
                    Delivery, field="created_at", since=since, status="skipped_no_consent"
                ),
            )
        )

    @admin.display(description="success rate (24 h)")
    def success_rate(self, obj):
        if not obj.tries_24h:
            return "no tries"
        return f"{100 * (obj.ok_24h or 0) / obj.tries_24h:.0f}% of {obj.tries_24h}"

    @admin.display(description="skipped, no consent (24 h)")
    def skipped_24h(self, obj):
        return obj.skipped or 0

    @admin.display(description="health")
    def health(self, obj):
        if obj.failing_since is None:
            return "ok"
        alert = timedelta(minutes=settings.TRIBUTARY_WEBHOOK_FAILING_ALERT_MINUTES)
        if timezone.now() - obj.failing_since >= alert:
            return format_html(
                '<strong style="color:#ba2121">⚠ failing since {}</strong>',
                obj.failing_since.strftime("%Y-%m-%d %H:%M UTC"),
            )
        return "recent failures"

    def save_model(self, request, obj, form, change):
        secret = save_destination(destination=obj)
        if secret:
            messages.warning(
                request, f"Signing secret for {obj.name} (shown only once, copy it now): {secret}"
            )

    def get_urls(self):
        extra = [
            path(
                "<int:pk>/send-test/",
                self.admin_site.admin_view(self.send_test_view),
                name="destinations_destination_send_test",
            )
        ]
        return extra + super().get_urls()

    def send_test_view(self, request, pk):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        destination = get_object_or_404(Destination, pk=pk)
        if not self.has_change_permission(request, destination):
            raise PermissionDenied
        self._report_test(request, send_test_event(destination=destination, actor=request.user))
        return HttpResponseRedirect(reverse("admin:destinations_destination_change", args=[pk]))

    def _report_test(self, request, delivery):
        name = delivery.destination.name
        if delivery.status == Delivery.Status.SUCCEEDED:
            messages.success(
                request,
                f"Test event delivered to {name}: HTTP {delivery.last_status_code} "
                f"in {delivery.last_latency_ms} ms.",
            )
        else:
            answer = delivery.last_status_code or delivery.last_error
            messages.error(request, f"Test event to {name} failed: {answer}")

    @admin.action(
        description="Rotate signing secret (the old one signs for a while)", permissions=["change"]
    )
    def rotate_secrets(self, request, queryset):
        for destination in queryset:
            secret = rotate_secret(destination=destination, actor=request.user)
            messages.warning(request, f"New signing secret for {destination.name}: {secret}")

    @admin.action(description="Send a test event", permissions=["change"])
    def send_test_events(self, request, queryset):
        for destination in queryset:
            self._report_test(request, send_test_event(destination=destination, actor=request.user))


class DeliveryAttemptInline(RoleAwareInline, admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    fields = (
        "number",
        "attempted_at",
        "outcome",
        "status_code",
        "latency_ms",
        "error",
        "response_excerpt",
    )
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class ProblemFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "problem"

    def lookups(self, request, model_admin):
        return [("yes", "failed or dead")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(Q(status="failed") | Q(status="dead"))
        return queryset


@admin.register(Delivery)
class DeliveryAdmin(RoleAwareAdmin):
    list_display = (
        "id",
        "destination",
        "type",
        "customer_id",
        "status",
        "attempts",
        "last_status_code",
        "last_latency_ms",
        "excerpt",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status", ProblemFilter, "destination", "type", "created_at")
    list_select_related = ("destination",)
    search_fields = ("=delivery_id", "=customer__id")
    date_hierarchy = "created_at"
    raw_id_fields = ("customer", "outbox_entry")
    inlines = [DeliveryAttemptInline]
    actions = ["replay"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.display(description="response")
    def excerpt(self, obj):
        text = obj.last_error or obj.last_response_excerpt
        return text[:60] + ("…" if len(text) > 60 else "")

    @admin.action(description="Replay (send again from the first try)", permissions=["change"])
    def replay(self, request, queryset):
        count = replay_deliveries(
            delivery_pks=list(queryset.values_list("pk", flat=True)), actor=request.user
        )
        skipped = queryset.count() - count
        messages.success(request, f"{count} deliveries queued again.")
        if skipped:
            messages.warning(request, f"{skipped} not replayed: only dead or failing ones can be.")
