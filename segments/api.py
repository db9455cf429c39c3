"""Segments over the REST API (scope ``segments:read``; one profile also ``profiles:read``).

GET /api/v1/segments/                                   segments, by name
GET /api/v1/segments/{id}/                              one segment
GET /api/v1/segments/{id}/members/                      current members, newest first
GET /api/v1/segments/{id}/members/<type>:<value>/       is this profile a member?
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response

from accounts.api.masking import MaskedSerializer
from core.api.exceptions import ApiError
from core.api.router import router
from customers.api.lookups import profile_or_404
from segments.models import Segment, SegmentMembership


class SegmentSerializer(MaskedSerializer, serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = (
            "id",
            "name",
            "description",
            "kind",
            "rule",
            "is_active",
            "personalize",
            "size",
            "computed_at",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class MemberSerializer(serializers.ModelSerializer):
    """Ids only: contact data leaves through an export, which asks for a purpose
    and keeps only the people it may use (``POST /api/v1/exports/segment-members/``)."""

    customer_id = serializers.IntegerField()

    class Meta:
        model = SegmentMembership
        fields = ("customer_id", "entered_at")
        read_only_fields = fields


class MembershipAnswerSerializer(serializers.Serializer):
    segment_id = serializers.IntegerField()
    customer_id = serializers.IntegerField()
    member = serializers.BooleanField()
    entered_at = serializers.DateTimeField(allow_null=True)


class SegmentViewSet(viewsets.ReadOnlyModelViewSet):
    """Segments with their current size (as of their last recompute)."""

    queryset = Segment.objects.all()
    serializer_class = SegmentSerializer
    required_scopes = ["segments:read"]
    cursor_ordering = ("name", "id")


SEGMENT_PARAMETER = OpenApiParameter("segment_pk", OpenApiTypes.INT, OpenApiParameter.PATH)
IDENTIFIER_PARAMETER = OpenApiParameter(
    "identifier",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="`<type>:<value>`, e.g. `email:ann@example.com`, normalized as in ingestion.",
)


@extend_schema_view(
    list=extend_schema(parameters=[SEGMENT_PARAMETER]),
    retrieve=extend_schema(
        parameters=[SEGMENT_PARAMETER, IDENTIFIER_PARAMETER],
        responses={200: MembershipAnswerSerializer},
    ),
)
class SegmentMemberViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """A segment's current members; ``members/<type>:<value>/`` answers for one profile."""

    serializer_class = MemberSerializer
    # answering for ``email:…`` tells whether that person is known: a profile
    # lookup, so it needs the profile scope too
    required_scopes = {"list": ["segments:read"], "retrieve": ["segments:read", "profiles:read"]}
    cursor_ordering = ("-id",)
    lookup_field = "identifier"
    lookup_value_regex = "[^/]+"

    def _segment(self) -> Segment:
        segment = Segment.objects.filter(pk=self.kwargs["segment_pk"]).first()
        if segment is None:
            raise ApiError(
                status_code=404,
                code="segment_not_found",
                message=f"No segment with id {self.kwargs['segment_pk']}.",
            )
        return segment

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SegmentMembership.objects.none()
        return SegmentMembership.objects.filter(segment=self._segment(), exited_at__isnull=True)

    def retrieve(self, request, segment_pk: str, identifier: str):
        segment = self._segment()
        customer = profile_or_404(identifier)
        membership = (
            SegmentMembership.objects.filter(
                segment=segment, customer=customer, exited_at__isnull=True
            )
            .only("entered_at")
            .first()
        )
        answer = {
            "segment_id": segment.pk,
            "customer_id": customer.pk,
            "member": membership is not None,
            "entered_at": membership.entered_at if membership else None,
        }
        return Response(MembershipAnswerSerializer(answer).data)


router.register("segments", SegmentViewSet, basename="segment")
router.register(
    r"segments/(?P<segment_pk>[0-9]+)/members", SegmentMemberViewSet, basename="segment-member"
)
