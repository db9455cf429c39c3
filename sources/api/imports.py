"""/api/v1/imports/: upload a file, then poll the job (scope imports:write).

POST /api/v1/imports/                 multipart: file, kind, source, mapping, dry_run
GET  /api/v1/imports/{id}/            status, progress and counts
POST /api/v1/imports/{id}/confirm/    import a previewed job
GET  /api/v1/imports/{id}/issues/     the row report (row, column, value, reason)
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api.masking import MaskedSerializer
from core.api.errors import ErrorSerializer
from core.api.exceptions import ApiError, Conflict
from core.api.pagination import CursorPagination
from core.api.router import router
from customers.models import Source
from sources.imports.jobs import (
    ImportStateError,
    confirm_import,
    create_import_job,
    map_once,
    start_preview,
)
from sources.imports.mapping import MappingError
from sources.imports.reading import ImportFileError
from sources.models import ImportIssue, ImportJob


class ImportJobSerializer(serializers.ModelSerializer):
    source_name = serializers.CharField(source="source.name", read_only=True)

    class Meta:
        model = ImportJob
        fields = (
            "id",
            "original_name",
            "format",
            "kind",
            "source",
            "source_name",
            "headers",
            "mapping",
            "event_name",
            "date_order",
            "status",
            "dry_run",
            "rows_total",
            "rows_done",
            "rows_new",
            "rows_updated",
            "rows_merged",
            "rows_unchanged",
            "rows_invalid",
            "rows_with_warnings",
            "batches_total",
            "batches_done",
            "rows_joined_weakly",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="CSV, XLSX or JSON; the first row holds the headers. At most "
        "TRIBUTARY_MAX_UPLOAD_MB (50 MB by default; 413 beyond)."
    )
    kind = serializers.ChoiceField(choices=ImportJob.Kind.choices, default="customers")
    source = serializers.PrimaryKeyRelatedField(
        queryset=Source.objects.all(),
        required=False,
        allow_null=True,
        help_text="Source id; without one, a file source named after the file is used.",
    )
    mapping = serializers.JSONField(
        binary=True,
        required=False,
        default=dict,
        help_text='JSON object {"column": "target"}; targets: a core field, trait.NAME, '
        "id.TYPE, consent.PURPOSE[:inverted], address, ignore … (see the README). "
        "Recognised headers and vendor export layouts need no entry.",
    )
    dry_run = serializers.BooleanField(
        default=False, help_text="Preview only; confirm afterwards to import."
    )
    event_name = serializers.CharField(
        max_length=200,
        required=False,
        default="",
        help_text="Event files: the event name every row gets (an order file's default: "
        "TRIBUTARY_PURCHASE_EVENT).",
    )
    date_order = serializers.ChoiceField(
        choices=[("", "decide per column"), *ImportJob.DateOrder.choices],
        required=False,
        default="",
        help_text="How to read dates like 03/04/2024: DMY or MDY; empty decides per column "
        "when a column reads one way only.",
    )

    def validate_mapping(self, value):
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise serializers.ValidationError("must be an object of column name → target")
        return value


class ImportIssueSerializer(MaskedSerializer, serializers.ModelSerializer):
    class Meta:
        model = ImportIssue
        fields = ("row", "column", "value", "severity", "code", "reason")
        read_only_fields = fields


class _IssuePagination(CursorPagination):
    def get_ordering(self, request, queryset, view):
        return ("id",)  # issues are written in row order


class ImportJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = ImportJob.objects.select_related("source")
    serializer_class = ImportJobSerializer
    required_scopes = ["imports:write"]
    cursor_ordering = "-id"

    @extend_schema(request=ImportUploadSerializer, responses={202: ImportJobSerializer})
    def create(self, request):
        """Upload a file and start its preview (dry_run) or its import; poll the job."""
        form = ImportUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            job = create_import_job(
                file=data["file"],
                name=data["file"].name,
                kind=data["kind"],
                source=data.get("source"),
                user=request.user,
            )
        except ImportFileError as exc:
            status_code = 413 if exc.code == "file_too_large" else 400
            raise ApiError(status_code=status_code, code=exc.code, message=str(exc)) from None
        try:
            map_once(
                job=job,
                overrides=data["mapping"],
                event_name=data["event_name"],
                date_order=data["date_order"],
            )
        except MappingError as exc:
            raise ApiError(
                status_code=400, code=exc.code, message=str(exc), details={"column": exc.column}
            ) from None
        (start_preview if data["dry_run"] else confirm_import)(job=job)
        job.refresh_from_db()
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: ImportJobSerializer, 409: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """Import a job whose preview is done."""
        job = self.get_object()
        if job.status != ImportJob.Status.PREVIEWED:
            raise Conflict(f"Only a previewed job can be confirmed; this one is {job.status}.")
        try:
            confirm_import(job=job)
        except ImportStateError as exc:
            raise Conflict(str(exc)) from None
        job.refresh_from_db()
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: ImportIssueSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def issues(self, request, pk=None):
        """The row report of the latest run, in row order."""
        job = self.get_object()
        paginator = _IssuePagination()
        page = paginator.paginate_queryset(job.issues.all(), request, view=self)
        return paginator.get_paginated_response(ImportIssueSerializer(page, many=True).data)


router.register("imports", ImportJobViewSet, basename="import")
