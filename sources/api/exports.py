"""/api/v1/exports/: files of customers, events or segment members, for a stated purpose.

POST /api/v1/exports/customers/        profiles:read                  every active profile
POST /api/v1/exports/events/           events:read                    every event
POST /api/v1/exports/segment-members/  segments:read + profiles:read  a segment's members

Body: ``{"purpose": "email_marketing", "file_format": "csv"|"xlsx"}`` (and
``"segment": <id>`` for members). The file holds only the people the purpose
may use; the export and its purpose are recorded (``ExportRecord``). POST,
not GET: asking for a file writes to the audit trail.
"""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action

from accounts.models import ApiKey
from consent.models import Purpose
from core.api.errors import ErrorSerializer
from core.api.router import router
from customers.models import Customer, Event
from segments.models import Segment
from sources.exports.service import (
    FORMATS,
    ExportFile,
    export_customers,
    export_events,
    export_segment_members,
)


class ExportRequestSerializer(serializers.Serializer):
    purpose = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Purpose.objects.filter(is_active=True),
        help_text="What the file is for (a purpose code); only people it may use are written.",
    )
    file_format = serializers.ChoiceField(choices=sorted(FORMATS), default="csv")


class SegmentExportRequestSerializer(ExportRequestSerializer):
    segment = serializers.PrimaryKeyRelatedField(queryset=Segment.objects.all())


_FILES = {
    (200, "text/csv"): OpenApiTypes.BINARY,
    (200, FORMATS["xlsx"]): OpenApiTypes.BINARY,
    400: ErrorSerializer,
    403: ErrorSerializer,
}


class ExportViewSet(viewsets.GenericViewSet):
    """Exports for a purpose; masked files for people without ``view_contact_details``."""

    required_scopes = {
        "customers": ["profiles:read"],
        "events": ["events:read"],
        "segment_members": ["segments:read", "profiles:read"],
    }
    serializer_class = ExportRequestSerializer

    def _form(self, serializer_class=ExportRequestSerializer) -> dict:
        form = serializer_class(data=self.request.data)
        form.is_valid(raise_exception=True)
        return form.validated_data

    def _actor(self):
        """A person's own permissions (and masking) apply; an API key's scopes did already."""
        return None if isinstance(self.request.auth, ApiKey) else self.request.user

    @extend_schema(request=ExportRequestSerializer, responses=_FILES)
    @action(detail=False, methods=["post"])
    def customers(self, request):
        data = self._form()
        return _download(
            export_customers(
                customers=Customer.objects.active(),
                file_format=data["file_format"],
                purpose=data["purpose"],
                actor=self._actor(),
            )
        )

    @extend_schema(request=ExportRequestSerializer, responses=_FILES)
    @action(detail=False, methods=["post"])
    def events(self, request):
        data = self._form()
        return _download(
            export_events(
                events=Event.objects.all(),
                file_format=data["file_format"],
                purpose=data["purpose"],
                actor=self._actor(),
            )
        )

    @extend_schema(request=SegmentExportRequestSerializer, responses=_FILES)
    @action(detail=False, methods=["post"], url_path="segment-members")
    def segment_members(self, request):
        data = self._form(SegmentExportRequestSerializer)
        return _download(
            export_segment_members(
                segments=[data["segment"]],
                file_format=data["file_format"],
                purpose=data["purpose"],
                actor=self._actor(),
            )
        )


def _download(export: ExportFile) -> StreamingHttpResponse:
    response = StreamingHttpResponse(export.chunks, content_type=export.content_type)
    response["Content-Disposition"] = content_disposition_header(True, export.filename)
    return response


router.register("exports", ExportViewSet, basename="export")
