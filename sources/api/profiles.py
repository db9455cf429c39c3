"""Profiles by any identifier, their event timelines, and the customer list.

    GET   /api/v1/profiles/<type>:<value>/          profiles:read
    POST  /api/v1/profiles/lookup/                  profiles:read (identifier in the body)
    PATCH /api/v1/profiles/<type>:<value>/          profiles:write (through the pipeline)
    GET   /api/v1/profiles/<type>:<value>/events/   events:read
    GET   /api/v1/customers/                        profiles:read

These live in ``sources`` because a write goes through the pipeline and a
profile shows what the apps above ``customers`` know about it.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api.masking import MaskedSerializer, masks_contact_details
from core.api.exceptions import ApiError
from core.api.router import router
from customers.api.lookups import profile_or_404
from customers.models import Customer, Event
from customers.selectors import profile_identities
from customers.services.normalize import InvalidValue
from sources.api.filters import CustomerFilter, EventFilter
from sources.personalization.documents import document_or_404
from sources.personalization.serializers import ProfileDetailSerializer, ProfileSerializer
from sources.services.rest import update_profile_traits

IDENTIFIER_PARAMETER = OpenApiParameter(
    "identifier",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="`<type>:<value>`, e.g. `email:ann@example.com`, `user_id:42`, "
    "`external_id:crm-9`. The value is normalized as in ingestion.",
    examples=[
        OpenApiExample("email", value="email:ann@example.com"),
        OpenApiExample("user id", value="user_id:42"),
        OpenApiExample("CRM id", value="external_id:crm-9"),
    ],
)


class TraitsUpdateSerializer(serializers.Serializer):
    traits = serializers.DictField(
        allow_empty=False,
        help_text="Segment identify traits: reserved ones (email, phone, firstName, "
        "lastName, address…) set core fields, the rest are custom traits.",
    )


class ProfileLookupSerializer(serializers.Serializer):
    identifier = serializers.CharField(
        max_length=1000,
        trim_whitespace=False,
        help_text="`<type>:<value>`, as in the profile URL, e.g. `email:ann@example.com`.",
    )


class EventSerializer(MaskedSerializer, serializers.ModelSerializer):
    source = serializers.CharField(source="source.name")

    class Meta:
        model = Event
        fields = (
            "id",
            "type",
            "name",
            "properties",
            "context",
            "timestamp",
            "received_at",
            "message_id",
            "source",
        )
        read_only_fields = fields


@extend_schema_view(
    retrieve=extend_schema(parameters=[IDENTIFIER_PARAMETER]),
    partial_update=extend_schema(
        parameters=[IDENTIFIER_PARAMETER],
        request=TraitsUpdateSerializer,
        responses={200: ProfileDetailSerializer},
    ),
)
class ProfileViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A profile addressed by any of its identifiers, like Segment's Profiles API."""

    queryset = Customer.objects.active()
    serializer_class = ProfileDetailSerializer
    lookup_field = "identifier"
    lookup_value_regex = "[^/]+"
    required_scopes = {
        "retrieve": ["profiles:read"],
        "lookup": ["profiles:read"],
        "partial_update": ["profiles:write"],
    }

    def get_object(self) -> Customer:
        return profile_or_404(self.kwargs["identifier"])

    def retrieve(self, request, identifier: str):
        return Response(self._answer(request, identifier))

    def _answer(self, request, identifier: str) -> dict:
        """The cached profile document; rendered per request only for a person
        whose role masks contact details (documents hold them in full)."""
        if masks_contact_details(request):
            return self.get_serializer(profile_or_404(identifier)).data
        return document_or_404(identifier)

    @extend_schema(
        request=ProfileLookupSerializer,
        responses={200: ProfileDetailSerializer},
        examples=[OpenApiExample("email", value={"identifier": "email:ann@example.com"})],
    )
    @action(detail=False, methods=["post"])
    def lookup(self, request):
        """The same answer as ``GET /profiles/<type>:<value>/``, with the identifier
        in the body: it stays out of URLs, proxies' and servers' access logs and
        browser history, and may hold a ``/``."""
        form = ProfileLookupSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return Response(self._answer(request, form.validated_data["identifier"]))

    def partial_update(self, request, identifier: str):
        """Update traits through the pipeline, as an identify call from the REST API source."""
        profile_or_404(identifier)
        form = TraitsUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        type_name, _, value = identifier.partition(":")
        try:
            customer = update_profile_traits(
                type_name=type_name, value=value, traits=form.validated_data["traits"]
            )
        except InvalidValue as exc:
            raise ApiError(
                status_code=400, code=exc.code, message=exc.message, details={"traits": exc.message}
            ) from None
        fresh = Customer.objects.prefetch_related(profile_identities()).get(pk=customer.pk)
        return Response(ProfileDetailSerializer(fresh, context={"request": request}).data)


@extend_schema_view(list=extend_schema(parameters=[IDENTIFIER_PARAMETER]))
class ProfileEventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """A profile's timeline, newest first (merged-away profiles' events included)."""

    serializer_class = EventSerializer
    filterset_class = EventFilter
    required_scopes = ["events:read"]
    cursor_ordering = ("-timestamp", "-id")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Event.objects.none()
        customer = profile_or_404(self.kwargs["identifier"])
        return Event.objects.filter(customer=customer).select_related("source")


class CustomerViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Active profiles, filtered; newest first.

    Fetch one with /profiles/<type>:<value>/ for its consent verdicts.
    """

    serializer_class = ProfileSerializer
    filterset_class = CustomerFilter
    required_scopes = ["profiles:read"]
    cursor_ordering = "-id"

    def get_queryset(self):
        return Customer.objects.active().prefetch_related(profile_identities())


router.register("profiles", ProfileViewSet, basename="profile")
router.register(
    r"profiles/(?P<identifier>[^/]+)/events", ProfileEventViewSet, basename="profile-event"
)
router.register("customers", CustomerViewSet, basename="customer")
