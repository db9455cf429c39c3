from pathlib import Path

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import content_disposition_header

from accounts.admin_roles import HistoryAdmin, RoleAwareAdmin
from accounts.masking import can_see_contact_details
from consent.services.categories import UNKNOWN_CONSENT_CATEGORY
from customers.models import Source
from customers.services.identity import REFUSAL_CODES
from sources import admin_exports, admin_intake  # noqa: F401 - register their admins
from sources.imports.forms import MappingForm, UploadForm
from sources.imports.jobs import (
    ImportStateError,
    confirm_import,
    create_import_job,
    set_mapping,
    start_preview,
)
from sources.imports.mapping import MappingError
from sources.imports.reading import ImportFileError
from sources.imports.report import column_samples, mapping_lines, report_lines, summary_lines
from sources.models import ImportJob
from sources.personalization.secrets import rotate_identity_secret
from sources.selectors import with_intake_figures
from sources.services.keys import create_source, rotate_write_key

_FIGURES = (
    "messages_last_hour",
    "messages_last_day",
    "last_message_at",
    "recent_rejections",
    "recent_failures",
    "unknown_consent_categories",
    "identity_refusals",
)


@admin.register(Source)
class SourceAdmin(HistoryAdmin):
    history_list_display = ("history_actor",)  # who: user, API key or source
    list_display = ("name", "kind", "write_key_prefix", "enabled", *_FIGURES)
    list_filter = ("kind", "enabled")
    search_fields = ("name",)
    readonly_fields = (
        "write_key_prefix",
        "write_key_rotated_at",
        "created_at",
        "identity_secret_set",
        *_FIGURES,
    )
    actions = ["rotate_keys", "rotate_identity_secrets"]

    def get_queryset(self, request):
        return with_intake_figures(super().get_queryset(request), now=timezone.now())

    @admin.display(description="identity secret", boolean=True)
    def identity_secret_set(self, obj):
        """Whether one is set; the secret itself is shown once, when rotated."""
        return bool(obj.identity_secret)

    @admin.display(description="messages, last hour", ordering="messages_last_hour")
    def messages_last_hour(self, obj):
        return obj.messages_last_hour

    @admin.display(description="messages, last day", ordering="messages_last_day")
    def messages_last_day(self, obj):
        return obj.messages_last_day

    @admin.display(description="last message", ordering="last_message_at")
    def last_message_at(self, obj):
        return obj.last_message_at or "never"

    @admin.display(description="rejected, last day")
    def recent_rejections(self, obj):
        url = reverse("admin:sources_rejectedmessage_changelist") + f"?source__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj.rejections_last_day)

    @admin.display(description="failed, last day")
    def recent_failures(self, obj):
        url = (
            reverse("admin:sources_intakemessage_changelist")
            + f"?source__id__exact={obj.pk}&status__exact=failed"
        )
        return format_html('<a href="{}">{}</a>', url, obj.failures_last_day)

    @admin.display(description="unknown consent categories, last day")
    def unknown_consent_categories(self, obj):
        url = (
            reverse("admin:customers_dataqualityissue_changelist")
            + f"?source__id__exact={obj.pk}&code__exact={UNKNOWN_CONSENT_CATEGORY}"
        )
        return format_html('<a href="{}">{}</a>', url, obj.unknown_consent_categories_last_day)

    @admin.display(description="identifiers refused, last day")
    def identity_refusals(self, obj):
        url = (
            reverse("admin:customers_dataqualityissue_changelist")
            + f"?source__id__exact={obj.pk}&code__in={','.join(REFUSAL_CODES)}"
        )
        return format_html('<a href="{}">{}</a>', url, obj.identity_refusals_last_day)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        source, key = create_source(name=obj.name, kind=obj.kind, description=obj.description)
        obj.pk = source.pk
        obj.write_key_prefix = source.write_key_prefix
        messages.warning(
            request, f"Write key for {source.name} (shown only once, copy it now): {key}"
        )

    @admin.action(
        description="Rotate write key (the old key stops working)", permissions=["change"]
    )
    def rotate_keys(self, request, queryset):
        for source in queryset:
            key = rotate_write_key(source=source, actor=request.user)
            messages.warning(request, f"New write key for {source.name} (shown once): {key}")

    @admin.action(
        description="Rotate identity secret for signed user ids (old userHash values stop "
        "matching)",
        permissions=["change"],
    )
    def rotate_identity_secrets(self, request, queryset):
        for source in queryset:
            secret = rotate_identity_secret(source=source, actor=request.user)
            messages.warning(
                request, f"New identity secret for {source.name} (shown once): {secret}"
            )


SHOWN_ISSUES = 100


@admin.register(ImportJob)
class ImportJobAdmin(RoleAwareAdmin):
    """Upload → map columns → preview (dry run) → confirm → progress and report."""

    list_display = (
        "original_name",
        "kind",
        "source",
        "status",
        "progress",
        "outcome",  # one column for the row counts: the list fits a laptop's screen
        "created_by",
        "created_at",
    )
    list_filter = ("status", "kind")
    list_select_related = ("source", "created_by")
    search_fields = ("original_name", "source__name")
    show_full_result_count = False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/mapping/", view(self.mapping_view), name="sources_importjob_mapping"),
            path("<int:pk>/status/", view(self.status_view), name="sources_importjob_status"),
            path("<int:pk>/confirm/", view(self.confirm_view), name="sources_importjob_confirm"),
            path("<int:pk>/report.csv", view(self.report_view), name="sources_importjob_report"),
            *super().get_urls(),
        ]

    @admin.display(description="rows done")
    def progress(self, obj: ImportJob) -> str:
        return f"{obj.rows_done:,} / {obj.rows_total:,}"

    @admin.display(description="rows")
    def outcome(self, obj: ImportJob) -> str:
        counts = (
            (obj.rows_new, "new"),
            (obj.rows_updated, "updated"),
            (obj.rows_merged, "merged"),
            (obj.rows_invalid, "invalid"),
        )
        return " · ".join(f"{n:,} {label}" for n, label in counts if n) or "—"

    def has_delete_permission(self, request, obj=None):
        return False

    def _job(self, request, pk: int, *, change: bool) -> ImportJob:
        job = get_object_or_404(ImportJob.objects.select_related("source"), pk=pk)
        allowed = (
            self.has_change_permission(request, job)
            if change
            else self.has_view_permission(request, job)
        )
        if not allowed:
            raise PermissionDenied
        return job

    def _render(self, request, template: str, context: dict):
        return TemplateResponse(
            request,
            f"admin/sources/importjob/{template}",
            {**self.admin_site.each_context(request), "opts": self.model._meta, **context},
        )

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = create_import_job(
                    file=upload,
                    name=upload.name,
                    kind=form.cleaned_data["kind"],
                    source=form.cleaned_data["source"],
                    user=request.user,
                )
            except ImportFileError as exc:
                form.add_error("file", str(exc))
            else:
                return redirect("admin:sources_importjob_mapping", job.pk)
        return self._render(request, "upload.html", {"form": form, "title": "Import a file"})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return redirect("admin:sources_importjob_status", int(object_id))

    def mapping_view(self, request, pk: int):
        job = self._job(request, pk, change=True)
        samples = column_samples(job) if can_see_contact_details(request.user) else {}
        form = MappingForm(request.POST or None, job=job, samples=samples)
        if request.method == "POST" and form.is_valid():
            try:
                set_mapping(
                    job=job,
                    overrides=form.overrides(),
                    event_name=form.cleaned_data.get("event_name", ""),
                    date_order=form.cleaned_data["date_order"],
                )
                start_preview(job=job)
            except (MappingError, ImportStateError) as exc:
                form.add_error(None, str(exc))
            else:
                return redirect("admin:sources_importjob_status", job.pk)
        return self._render(
            request,
            "mapping.html",
            {"form": form, "job": job, "title": f"Map the columns of {job.original_name}"},
        )

    def confirm_view(self, request, pk: int):
        job = self._job(request, pk, change=True)
        if request.method != "POST":
            return redirect("admin:sources_importjob_status", job.pk)
        if job.status != ImportJob.Status.PREVIEWED:
            messages.error(request, "Preview the file before importing it.")
            return redirect("admin:sources_importjob_status", job.pk)
        try:
            confirm_import(job=job)
        except ImportStateError as exc:
            messages.error(request, str(exc))
        return redirect("admin:sources_importjob_status", job.pk)

    def status_view(self, request, pk: int):
        job = self._job(request, pk, change=False)
        issues = list(job.issues.all()[:SHOWN_ISSUES])
        return self._render(
            request,
            "status.html",
            {
                "job": job,
                "title": str(job),
                "summary": summary_lines(job),
                "columns": mapping_lines(job, with_values=can_see_contact_details(request.user)),
                "issues": issues,
                "issue_count": job.issues.count(),
                "shown_issues": SHOWN_ISSUES,
                "can_change": self.has_change_permission(request, job),
                "refresh": job.is_active,
            },
        )

    def report_view(self, request, pk: int):
        job = self._job(request, pk, change=False)
        masked = not can_see_contact_details(request.user)
        response = StreamingHttpResponse(
            report_lines(job, mask_contact_details=masked), content_type="text/csv"
        )
        # the uploaded file's name is the uploader's: quoted and encoded, never raw
        name = f"{Path(job.original_name).stem}-report-{job.pk}.csv"
        response["Content-Disposition"] = content_disposition_header(True, name)
        return response
