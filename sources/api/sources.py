"""/api/v1/sources/: list, create, rotate write keys (scope sources:admin)."""

from __future__ import annotations

from django.db import IntegrityError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.errors import ErrorSerializer
from core.api.exceptions import Conflict
from core.api.router import router
from sources.models import Source
from sources.services.keys import create_source, rotate_write_key


class SourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = (
            "id",
            "name",
            "kind",
            "enabled",
            "description",
            "write_key_prefix",
            "write_key_rotated_at",
            "created_at",
        )
        read_only_fields = fields


class SourceWithKeySerializer(SourceSerializer):
    write_key = serializers.CharField(help_text="The full write key, shown only in this response.")

    class Meta(SourceSerializer.Meta):
        fields = (*SourceSerializer.Meta.fields, "write_key")
        read_only_fields = fields


class SourceCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=Source.Kind.choices)
    description = serializers.CharField(required=False, allow_blank=True, default="")


def _with_key(source: Source, key: str) -> dict:
    return {**SourceSerializer(source).data, "write_key": key}


class SourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Source.objects.all()
    serializer_class = SourceSerializer
    required_scopes = ["sources:admin"]
    cursor_ordering = "id"

    @extend_schema(
        request=SourceCreateSerializer,
        responses={201: SourceWithKeySerializer, 409: ErrorSerializer},
    )
    def create(self, request):
        """Create a source; the response carries its write key, shown only once."""
        form = SourceCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        if Source.objects.filter(name=form.validated_data["name"]).exists():
            raise Conflict(f"A source named {form.validated_data['name']!r} already exists.")
        try:
            source, key = create_source(**form.validated_data)
        except IntegrityError:
            raise Conflict("A source with this name already exists.") from None
        return Response(_with_key(source, key), status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: SourceWithKeySerializer})
    @action(detail=True, methods=["post"], url_path="rotate-key")
    def rotate_key(self, request, pk=None):
        """Replace the write key (the old one stops working at once); shown only once."""
        source = self.get_object()
        key = rotate_write_key(source=source)
        return Response(_with_key(source, key))


router.register("sources", SourceViewSet, basename="source")
