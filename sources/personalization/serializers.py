"""The profile answer of the REST API, also the profile document cached for
``/v1/personalize`` (``sources.personalization.documents``): one shape for both."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.masking import MaskedSerializer
from consent.selectors import consent_overview
from customers.models import CORE_FIELDS, Customer
from segments.models import SegmentMembership
from segments.selectors import profile_computed_traits


class IdentitySerializer(MaskedSerializer):
    type = serializers.CharField(source="type.name")
    value = serializers.CharField()


class ProfileSerializer(MaskedSerializer, serializers.ModelSerializer):
    identities = IdentitySerializer(many=True, read_only=True)
    email = serializers.CharField(help_text="Empty when unknown.")
    traits = serializers.DictField()

    class Meta:
        model = Customer
        fields = (
            "id",
            *CORE_FIELDS,
            "traits",
            "identities",
            "is_identified",
            "first_seen",
            "last_seen",
        )
        read_only_fields = fields


class PurposeStatusSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    legal_basis = serializers.CharField()
    state = serializers.CharField(allow_null=True, help_text="null: no statement recorded yet")
    allowed = serializers.BooleanField(help_text="Whether the purpose may use this profile now.")
    since = serializers.DateTimeField(allow_null=True)


class ProfileSegmentSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="segment_id")
    name = serializers.CharField(source="segment.name")
    entered_at = serializers.DateTimeField()


class ProfileDetailSerializer(ProfileSerializer):
    segments = serializers.SerializerMethodField(help_text="Segments the profile is in now.")
    consent = serializers.SerializerMethodField(help_text="Every active purpose and its verdict.")
    computed_traits = serializers.SerializerMethodField(
        help_text="Computed traits by name: on-read ones (null when there is nothing to "
        "compute) and stored ones the profile has (RFM, lifecycle stage, scores, predictions)."
    )

    class Meta(ProfileSerializer.Meta):
        fields = (*ProfileSerializer.Meta.fields, "segments", "consent", "computed_traits")
        read_only_fields = fields

    @extend_schema_field(ProfileSegmentSerializer(many=True))
    def get_segments(self, customer: Customer) -> list[dict]:
        memberships = (
            SegmentMembership.objects.filter(customer=customer, exited_at__isnull=True)
            .select_related("segment")
            .order_by("segment__name")
        )
        return ProfileSegmentSerializer(memberships, many=True).data

    @extend_schema_field(PurposeStatusSerializer(many=True))
    def get_consent(self, customer: Customer) -> list[dict]:
        return PurposeStatusSerializer(consent_overview(customer), many=True).data

    @extend_schema_field(serializers.DictField(child=serializers.JSONField(allow_null=True)))
    def get_computed_traits(self, customer: Customer) -> dict:
        return dict(profile_computed_traits(customer.pk))
