"""Consent and privacy requests over REST.

GET  /api/v1/profiles/<type>:<value>/consent/     consent:read   state per purpose + history
POST /api/v1/profiles/<type>:<value>/consent/     consent:write  record consent
POST /api/v1/privacy-requests/                    privacy:write  {"type", "identifier"}
GET  /api/v1/privacy-requests/<id>/               privacy:write  status, due date, summary
GET  /api/v1/privacy-requests/<id>/download/      privacy:write  the access export (zip)
"""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api.masking import MaskedSerializer
from accounts.models import ApiKey
from consent.models import ConsentRecord, ConsentStateChoices, DataSubjectRequest, Purpose
from consent.selectors import consent_history, consent_overview
from consent.services.consent import record_consent
from consent.services.privacy import PrivacyRequestError, create_request
from core.api.exceptions import ApiError
from core.api.router import router
from customers.api.lookups import profile_or_404

IDENTIFIER_PARAMETER = OpenApiParameter(
    "identifier",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="`<type>:<value>`, e.g. `email:ann@example.com`.",
)
# How a REST caller may say the consent was collected (admin/import/tracking are ours).
API_METHODS = (
    ConsentRecord.Method.API,
    ConsentRecord.Method.WEB_FORM,
    ConsentRecord.Method.PREFERENCE_CENTRE,
)


class ConsentRecordSerializer(MaskedSerializer, serializers.ModelSerializer):
    purpose = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = ConsentRecord
        fields = (
            "id",
            "purpose",
            "state",
            "method",
            "source",
            "occurred_at",
            "recorded_at",
            "ip_address",
            "user_agent",
            "wording",
            "wording_version",
            "actor",
        )
        read_only_fields = fields


class RecordConsentSerializer(serializers.Serializer):
    purpose = serializers.SlugRelatedField(
        slug_field="code", queryset=Purpose.objects.filter(is_active=True)
    )
    state = serializers.ChoiceField(choices=ConsentStateChoices.choices)
    method = serializers.ChoiceField(choices=API_METHODS, default=ConsentRecord.Method.API)
    occurred_at = serializers.DateTimeField(required=False)
    ip_address = serializers.IPAddressField(required=False, allow_null=True)
    user_agent = serializers.CharField(required=False, allow_blank=True, max_length=500)
    wording = serializers.CharField(required=False, allow_blank=True)
    wording_version = serializers.CharField(required=False, allow_blank=True, max_length=64)


class PurposeStatusSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ConsentPurposeStatus"  # sources.api.profiles has a "PurposeStatus"

    code = serializers.CharField()
    name = serializers.CharField()
    legal_basis = serializers.CharField()
    state = serializers.CharField(allow_null=True)
    allowed = serializers.BooleanField()
    since = serializers.DateTimeField(allow_null=True)


@extend_schema_serializer(many=False)  # the "list" action answers one object
class ProfileConsentSerializer(serializers.Serializer):
    purposes = PurposeStatusSerializer(many=True)
    history = ConsentRecordSerializer(many=True)


@extend_schema_view(
    list=extend_schema(parameters=[IDENTIFIER_PARAMETER], responses=ProfileConsentSerializer),
    create=extend_schema(
        parameters=[IDENTIFIER_PARAMETER],
        request=RecordConsentSerializer,
        responses={201: ConsentRecordSerializer},
    ),
)
class ProfileConsentViewSet(viewsets.ViewSet):
    """A profile's consent: current state per purpose, the full history, new statements."""

    required_scopes = {"list": ["consent:read"], "create": ["consent:write"]}

    def list(self, request, identifier: str):
        customer = profile_or_404(identifier)
        return Response(
            {
                "purposes": PurposeStatusSerializer(consent_overview(customer), many=True).data,
                "history": ConsentRecordSerializer(
                    consent_history(customer), many=True, context={"request": request}
                ).data,
            }
        )

    def create(self, request, identifier: str):
        customer = profile_or_404(identifier)
        form = RecordConsentSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        record = record_consent(
            customer=customer,
            purpose=data["purpose"],
            state=data["state"],
            method=data["method"],
            occurred_at=data.get("occurred_at"),
            ip_address=data.get("ip_address"),
            user_agent=data.get("user_agent", ""),
            wording=data.get("wording", ""),
            wording_version=data.get("wording_version", ""),
        )
        answer = ConsentRecordSerializer(record, context={"request": request}).data
        return Response(answer, status=status.HTTP_201_CREATED)


class PrivacyRequestSerializer(MaskedSerializer, serializers.ModelSerializer):
    type = serializers.ChoiceField(choices=DataSubjectRequest.Type.choices)
    identifier = serializers.CharField(max_length=300)
    download_url = serializers.SerializerMethodField()
    outcome = serializers.CharField(
        read_only=True, help_text='What happened, e.g. "No profile matched this identifier …".'
    )

    class Meta:
        model = DataSubjectRequest
        fields = (
            "id",
            "type",
            "identifier",
            "status",
            "outcome",
            "created_at",
            "due_at",
            "completed_at",
            "summary",
            "download_url",
        )
        read_only_fields = ("id", "status", "created_at", "due_at", "completed_at", "summary")

    def get_download_url(self, obj: DataSubjectRequest) -> str | None:
        if not obj.result_file:
            return None
        request = self.context.get("request")
        path = f"/api/v1/privacy-requests/{obj.pk}/download/"
        return request.build_absolute_uri(path) if request else path


class PrivacyRequestViewSet(
    mixins.CreateModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Access and erasure requests; processing runs as a task, follow ``status``."""

    queryset = DataSubjectRequest.objects.all()
    serializer_class = PrivacyRequestSerializer
    required_scopes = ["privacy:write"]

    def perform_create(self, serializer):
        # a person handles the request; a key's account is recorded as requested_by
        user = None if isinstance(self.request.auth, ApiKey) else self.request.user
        try:
            serializer.instance = create_request(
                type=serializer.validated_data["type"],
                identifier=serializer.validated_data["identifier"],
                handled_by=user,
            )
        except PrivacyRequestError as exc:
            raise ApiError(
                status_code=400, code=exc.code, message=exc.message, details={"field": exc.field}
            ) from None

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        privacy_request = self.get_object()
        if not privacy_request.result_file:
            raise ApiError(
                status_code=404,
                code="no_result_file",
                message="Only a completed access request has a file to download.",
            )
        return FileResponse(
            privacy_request.result_file.open("rb"),
            as_attachment=True,
            filename=f"access-request-{privacy_request.pk}.zip",
            content_type="application/zip",
        )


router.register(
    r"profiles/(?P<identifier>[^/]+)/consent", ProfileConsentViewSet, basename="profile-consent"
)
router.register("privacy-requests", PrivacyRequestViewSet, basename="privacy-request")
